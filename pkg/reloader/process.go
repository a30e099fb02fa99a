package reloader

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/prometheus/procfs"
)

// process is a handle on the process a pid named when it was opened. With
// a pidfd (Linux 5.3 and later) a signal sent through it can only reach
// that process, even if the pid was reused since. Without one, the
// process's start time stands in for its identity and is compared again
// just before kill(2).
type process struct {
	pid   int
	proc  procfs.Proc
	pidfd int    // -1 when the kernel has no pidfd_open
	start uint64 // start time in clock ticks after boot, from /proc
}

// openProcess opens a handle on pid, returning an error wrapping
// errProcessGone when there is no such process.
func openProcess(pfs procfs.FS, pid int) (*process, error) {
	p := &process{pid: pid, pidfd: -1}
	fd, err := pidfdOpen(pid)
	switch {
	case err == nil:
		p.pidfd = fd
	case errors.Is(err, syscall.ESRCH):
		return nil, fmt.Errorf("pid %d: %w", pid, errProcessGone)
	case !errors.Is(err, syscall.ENOSYS) && !errors.Is(err, syscall.EPERM):
		// EPERM: a seccomp filter that refuses the call. Anything else is
		// unexpected and refuses the signal.
		return nil, fmt.Errorf("pid %d: pidfd_open: %w", pid, err)
	}
	proc, err := pfs.Proc(pid)
	if err == nil {
		var st procfs.ProcStat
		if st, err = proc.Stat(); err == nil {
			p.proc, p.start = proc, st.Starttime
			return p, nil
		}
	}
	p.close()
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ESRCH) {
		return nil, fmt.Errorf("pid %d: %w", pid, errProcessGone)
	}
	return nil, fmt.Errorf("pid %d: read /proc: %w", pid, err)
}

// signal sends sig to the process the handle was opened on.
func (p *process) signal(sig syscall.Signal) error {
	var err error
	if p.pidfd >= 0 {
		err = pidfdSendSignal(p.pidfd, sig)
	} else {
		err = p.killSame(sig)
	}
	if errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal pid %d: %w", p.pid, errProcessGone)
	}
	if err != nil {
		return fmt.Errorf("signal pid %d: %w", p.pid, err)
	}
	return nil
}

// killSame sends sig with kill(2) if pid still has the start time it had
// when the handle was opened. The remaining window, between this check and
// the kill, needs a full pid wrap-around to matter.
func (p *process) killSame(sig syscall.Signal) error {
	st, err := p.proc.Stat()
	if err != nil || st.Starttime != p.start {
		return syscall.ESRCH
	}
	return syscall.Kill(p.pid, sig)
}

// close releases the pidfd, if any.
func (p *process) close() {
	if p.pidfd >= 0 {
		_ = syscall.Close(p.pidfd)
		p.pidfd = -1
	}
}
