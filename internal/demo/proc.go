package demo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// stopGrace is how long a stopped process group has between SIGTERM and
// SIGKILL.
const stopGrace = 5 * time.Second

// proc is a child process running in its own process group, so that a
// Ctrl-C on the terminal reaches only the demo, which then stops each
// group in order, grandchildren included.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once reaped; then err is set
	err  error
}

// procSpec describes a child to start.
type procSpec struct {
	name string   // also names the log file <name>.log
	argv []string // program and arguments
	// onLine, if set, is called with each line of the child's standard
	// output (and of every process inheriting it), which is also logged.
	onLine func(string)
}

// start runs spec with its output in dir/<name>.log and env marker set.
func start(dir, marker string, spec procSpec) (*proc, error) {
	logPath := filepath.Join(dir, spec.name+".log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("demo: open log: %w", err)
	}
	cmd := exec.Command(spec.argv[0], spec.argv[1:]...)
	cmd.Env = append(os.Environ(), MarkerEnv+"="+marker)
	cmd.Stderr = logFile
	cmd.Stdout = logFile
	// Pdeathsig: should the demo itself be killed, its children die too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var r, w *os.File
	if spec.onLine != nil {
		if r, w, err = os.Pipe(); err != nil {
			logFile.Close()
			return nil, fmt.Errorf("demo: pipe: %w", err)
		}
		cmd.Stdout = w
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		if r != nil {
			r.Close()
			w.Close()
		}
		return nil, fmt.Errorf("demo: start %s: %w", spec.name, err)
	}
	p := &proc{name: spec.name, cmd: cmd, done: make(chan struct{})}
	copied := make(chan struct{})
	if r != nil {
		w.Close()
		go func() {
			defer close(copied)
			defer r.Close()
			copyLines(r, logFile, spec.onLine)
		}()
	} else {
		close(copied)
	}
	go func() {
		p.err = cmd.Wait()
		// Output of a grandchild still holding the pipe is not waited for.
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// copyLines copies r to log line by line, calling onLine with each.
func copyLines(r io.Reader, log io.Writer, onLine func(string)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Fprintln(log, sc.Text())
		onLine(sc.Text())
	}
}

// exitCode is the child's exit status once reaped (-1 when killed).
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// stop sends SIGTERM to the child's process group and SIGKILL after
// stopGrace, and returns once the child is reaped and the group is empty.
func (p *proc) stop() error {
	select {
	case <-p.done:
		// Exited by itself (the init container): its pid, hence its group
		// id, may belong to someone else by now. Leftovers covers a
		// process it left.
		return nil
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// The leader is gone; members that outlived it are killed.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err == nil {
		return fmt.Errorf("demo: %s left processes in its group; killed them", p.name)
	} else if !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("demo: kill %s's group: %w", p.name, err)
	}
	return nil
}
