package kubeenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stopGrace is how long a process has to exit after SIGTERM before its
// group is killed.
const stopGrace = 10 * time.Second

// process is one child (etcd or kube-apiserver) running in its own process
// group, its output going to a log file.
type process struct {
	name    string
	bin     string
	args    []string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once Wait returned
	waitErr error         // set before done is closed
}

// startProcess runs bin with args, output to logPath. The child leads a
// new process group (so that stop reaches anything it forks) and gets
// SIGKILL if the test binary's thread that started it dies first.
func startProcess(name, bin, logPath string, args ...string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("kubeenv: %s log: %w", name, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("kubeenv: start %s: %w", name, err)
	}
	p := &process{name: name, bin: bin, args: args, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid returns the process ID, which is also its process group ID.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exitError returns why the process ended. (A failed test's cleanup logs
// the end of each log.)
func (p *process) exitError() error {
	return fmt.Errorf("kubeenv: %s exited before kube-apiserver was ready: %v", p.name, p.waitErr)
}

// stop sends SIGTERM to the process group, SIGKILL after stopGrace, and
// waits until the process is reaped. Once it returns, no process of the
// group is left. It may be called more than once.
func (p *process) stop() error {
	var errs []error
	if err := unix.Kill(-p.pid(), unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
		errs = append(errs, fmt.Errorf("kubeenv: SIGTERM %s: %w", p.name, err))
	}
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
	}
	// Also after a clean exit: anything else left in the group goes too.
	if err := unix.Kill(-p.pid(), unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		errs = append(errs, fmt.Errorf("kubeenv: SIGKILL %s: %w", p.name, err))
	}
	<-p.done
	return errors.Join(errs...)
}

// logTail returns up to n last lines of the process's log.
func (p *process) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
