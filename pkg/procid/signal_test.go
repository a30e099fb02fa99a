//go:build linux

package procid_test

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/svidkit/svidkit/internal/fakeproc"
	"github.com/svidkit/svidkit/pkg/procid"
)

// endedBy sends SIGTERM to c, reaps it and returns the signal that ended
// it. A SIGHUP sent before and still pending is delivered first (lower
// signal numbers first), so SIGHUP means an earlier Signal reached c and
// SIGTERM that it did not.
func endedBy(t *testing.T, c *child) syscall.Signal {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	var exitErr *exec.ExitError
	if err := c.cmd.Wait(); !errors.As(err, &exitErr) {
		t.Fatalf("child ended with %v, want killed by a signal", err)
	}
	return exitErr.Sys().(syscall.WaitStatus).Signal()
}

func TestSignal(t *testing.T) {
	opens := []struct {
		name string
		open func(pid int32) (*procid.Process, error)
	}{
		{name: "pidfd_open", open: func(pid int32) (*procid.Process, error) { return procid.OpenPID("/proc", pid) }},
		{name: "start time only", open: func(pid int32) (*procid.Process, error) { return procid.Open("/proc", pid, nil) }},
	}
	tests := []struct {
		name    string
		role    string
		change  func(c *child, t *testing.T)
		wantErr error
	}{
		{name: "still running", role: "wait", change: func(*child, *testing.T) {}},
		// Signal checks liveness only: a shell that exec'd the application
		// is still the process to signal.
		{name: "exec'd", role: "exec", change: (*child).exec},
		{name: "exited", role: "wait", change: (*child).exit, wantErr: procid.ErrGone},
	}
	for _, o := range opens {
		for _, tt := range tests {
			t.Run(o.name+"/"+tt.name, func(t *testing.T) {
				c := startChild(t, tt.role)
				p, err := o.open(c.pid())
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				tt.change(c, t)
				err = p.Signal(syscall.SIGHUP)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Signal = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Signal = %v", err)
				}
				if got := endedBy(t, c); got != syscall.SIGHUP {
					t.Fatalf("child ended by %v, want SIGHUP", got)
				}
			})
		}
	}
}

// TestSignalWithoutPidfd covers the kill(2) fallback of kernels without
// pidfds: the handle is opened on a real child under a fake /proc tree (a
// fault injected here), whose stat file then says another start time, as
// it would once the pid was reused. The child must not be signalled.
func TestSignalWithoutPidfd(t *testing.T) {
	tests := []struct {
		name       string
		startDelta uint64 // added to the start time after Open
		wantErr    error
		wantEnd    syscall.Signal
	}{
		{name: "same process", wantEnd: syscall.SIGHUP},
		{name: "pid reused (start time differs)", startDelta: 1, wantErr: procid.ErrGone, wantEnd: syscall.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startChild(t, "wait")
			root := t.TempDir()
			p := fakeproc.Open(t, root, c.pid())
			fakeproc.WriteStat(t, root, c.pid(), fakeproc.StartTime+tt.startDelta)
			if err := p.Signal(syscall.SIGHUP); tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Signal = %v, want %v", err, tt.wantErr)
			}
			if got := endedBy(t, c); got != tt.wantEnd {
				t.Fatalf("child ended by %v, want %v", got, tt.wantEnd)
			}
		})
	}
}

func TestOpenPIDGone(t *testing.T) {
	c := startChild(t, "wait")
	c.exit(t)
	if p, err := procid.OpenPID("/proc", c.pid()); !errors.Is(err, procid.ErrGone) {
		p.Close()
		t.Fatalf("OpenPID(reaped pid) = %v, want ErrGone", err)
	}
}
