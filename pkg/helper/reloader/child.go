package reloader

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// outputDelay bounds how long the child's output is still copied after it
// exited, when a grandchild keeps its stdout or stderr open.
const outputDelay = time.Second

// child is a started Cmd.
type child struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
}

// exitEvent reports that a child was reaped.
type exitEvent struct {
	c   *child
	err error // from exec.Cmd.Wait
}

// startChild starts Cmd and a goroutine that reaps it. The child runs in its
// own process group: a Ctrl-C or SIGTERM sent to the terminal's foreground
// group reaches only the helper, which then stops the child in order
// (SIGTERM, grace, SIGKILL) instead of the child dying while the helper
// keeps running or the other way round.
func (l *loop) startChild() {
	cmd := exec.Command(l.r.path, l.cfg.Args...)
	cmd.Args[0] = l.cfg.Cmd
	cmd.Env = l.cfg.Env
	cmd.Stdout, cmd.Stderr = l.cfg.Stdout, l.cfg.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = outputDelay
	if err := cmd.Start(); err != nil {
		l.r.metrics.inc(l.r.metrics.starts, "error")
		l.cfg.Log.Error("cannot start cmd", "cmd", l.cfg.Cmd, "error", err)
		l.scheduleRestart(false, 0)
		return
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, started: time.Now()}
	l.child = c
	l.r.metrics.inc(l.r.metrics.starts, "ok")
	l.cfg.Log.Info("started cmd", "cmd", l.cfg.Cmd, "pid", c.pid)
	l.waiters.Add(1)
	go func() {
		defer l.waiters.Done()
		l.exited <- exitEvent{c: c, err: cmd.Wait()}
	}()
}

// notifyChild starts the child when it is not running and signals it
// otherwise. A child that has just exited is started again, so that the
// application still sees the new files.
func (l *loop) notifyChild() {
	if l.child == nil {
		l.restart.stop()
		l.startChild()
		return
	}
	err := l.child.cmd.Process.Signal(l.cfg.Signal)
	if err == nil {
		l.r.metrics.inc(l.r.metrics.signals, targetChild)
		l.cfg.Log.Info("signalled cmd", "cmd", l.cfg.Cmd, "pid", l.child.pid, "signal", l.cfg.Signal.String())
		return
	}
	l.r.metrics.inc(l.r.metrics.signalErrors, targetChild)
	if !errors.Is(err, os.ErrProcessDone) {
		l.cfg.Log.Error("cannot signal cmd", "cmd", l.cfg.Cmd, "pid", l.child.pid, "error", err)
		return
	}
	l.onExit(<-l.exited)
	l.restart.stop()
	l.startChild()
}

// onExit logs the child's exit and applies the restart policy.
func (l *loop) onExit(ev exitEvent) {
	l.child = nil
	ok, attrs := describeExit(ev)
	outcome := "failure"
	if ok {
		outcome = "success"
	}
	l.r.metrics.inc(l.r.metrics.exits, outcome)
	attrs = append([]any{"cmd", l.cfg.Cmd, "pid", ev.c.pid, "outcome", outcome}, attrs...)
	if d, restart := l.scheduleRestart(ok, time.Since(ev.c.started)); restart {
		attrs = append(attrs, "restart_in", d.String())
	} else {
		attrs = append(attrs, "restart", false)
	}
	if ok {
		l.cfg.Log.Info("cmd exited", attrs...)
	} else {
		l.cfg.Log.Warn("cmd exited", attrs...)
	}
}

// scheduleRestart arms the restart timer when the policy asks for it, and
// returns the delay. A child that ran longer than the maximum backoff resets
// the backoff.
func (l *loop) scheduleRestart(ok bool, ran time.Duration) (time.Duration, bool) {
	if !l.cfg.Restart.restarts(ok) {
		return 0, false
	}
	if ran >= l.cfg.MaxRestartBackoff {
		l.backoff = l.cfg.RestartBackoff
	}
	d := l.backoff
	l.backoff = min(2*l.backoff, l.cfg.MaxRestartBackoff)
	l.restart.reset(d)
	return d, true
}

// describeExit reports whether the child exited with code 0, and log
// attributes naming its exit code or signal.
func describeExit(ev exitEvent) (bool, []any) {
	var attrs []any
	ps := ev.c.cmd.ProcessState
	if ps == nil { // Wait failed before the process was reaped
		return false, []any{"error", ev.err}
	}
	if ws, isWS := ps.Sys().(syscall.WaitStatus); isWS && ws.Signaled() {
		attrs = append(attrs, "signal", ws.Signal().String())
	} else {
		attrs = append(attrs, "code", ps.ExitCode())
	}
	var exitErr *exec.ExitError
	if ev.err != nil && !errors.As(ev.err, &exitErr) {
		attrs = append(attrs, "error", ev.err)
	}
	return ps.Success(), attrs
}

// stopChild stops the running child: SIGTERM to the child, then after
// StopGrace SIGKILL to its whole process group. It returns once the child
// is reaped.
func (l *loop) stopChild() {
	c := l.child
	if c == nil {
		return
	}
	l.cfg.Log.Info("stopping cmd", "cmd", l.cfg.Cmd, "pid", c.pid, "grace", l.cfg.StopGrace.String())
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		l.cfg.Log.Warn("cannot send SIGTERM to cmd", "pid", c.pid, "error", err)
	}
	grace := time.NewTimer(l.cfg.StopGrace)
	defer grace.Stop()
	var ev exitEvent
	select {
	case ev = <-l.exited:
	case <-grace.C:
		select {
		case ev = <-l.exited: // exited just now
		default:
		}
	}
	if ev.c == nil {
		l.cfg.Log.Warn("cmd did not exit after SIGTERM; killing its process group", "cmd", l.cfg.Cmd, "pid", c.pid)
		// The group id is the child's pid (Setpgid). It is not reused
		// while the child is unreaped; the waiter may reap it right now,
		// but pid reuse within that window would need a full pid wrap.
		if err := syscall.Kill(-c.pid, syscall.SIGKILL); err != nil {
			l.cfg.Log.Warn("cannot kill cmd", "pid", c.pid, "error", fmt.Errorf("kill process group: %w", err))
		}
		ev = <-l.exited
	}
	l.child = nil
	_, attrs := describeExit(ev)
	l.cfg.Log.Info("cmd stopped", append([]any{"cmd", l.cfg.Cmd, "pid", c.pid}, attrs...)...)
}
