package reloader

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/prometheus/procfs"
)

// TestProcessSignalWithoutPidfd covers the fallback for kernels without
// pidfd_open: the handle's pidfd is dropped by the test (a fault injected
// here, since this kernel has pidfds), so the start time decides.
func TestProcessSignalWithoutPidfd(t *testing.T) {
	pfs, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		startDelta uint64 // added to the recorded start time
		wantErr    error
		wantExit   syscall.Signal // SIGTERM: the test's own, sent after
	}{
		{"same process", 0, nil, syscall.SIGHUP},
		{"pid reused (start time differs)", 1, errProcessGone, syscall.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("sleep", "1000")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			p, err := openProcess(pfs, cmd.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}
			p.close() // no pidfd: kill(2) after the start time check
			p.start += tt.startDelta
			if err := p.signal(syscall.SIGHUP); !errors.Is(err, tt.wantErr) {
				t.Fatalf("signal = %v, want %v", err, tt.wantErr)
			}
			// A SIGHUP sent above would be delivered before this SIGTERM
			// (lower signal numbers first), so the exit tells which came.
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
			var exitErr *exec.ExitError
			if err := <-waited; !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != tt.wantExit {
				t.Fatalf("sleep ended with %v, want killed by %v", err, tt.wantExit)
			}
		})
	}
}

func TestOpenProcessGone(t *testing.T) {
	pfs, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := openProcess(pfs, cmd.Process.Pid); !errors.Is(err, errProcessGone) {
		t.Fatalf("openProcess(reaped pid) = %v, want errProcessGone", err)
	}
}
