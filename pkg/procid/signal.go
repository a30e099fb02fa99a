package procid

import "syscall"

// Signal sends sig to the process. With a pidfd the signal goes through it
// (pidfd_send_signal(2)) and so reaches this process only, even once its
// pid names another one. Without a pidfd, kill(2) is called only if the
// pid still has the start time recorded at Open; the window left between
// that check and the kill needs the pids to wrap around to matter. Only
// liveness is checked, not the executable: a process that exec'd (a shell
// that exec'd the application) is still the one opened and is signalled.
// The error wraps ErrGone once the process has exited.
func (p *Process) Signal(sig syscall.Signal) error {
	var err error
	if p.raw != nil {
		if cerr := p.raw.Control(func(fd uintptr) { err = pidfdSignal(int(fd), sig) }); cerr != nil {
			return p.errorf("send %v: pidfd: %w", sig, cerr)
		}
	} else {
		if err := p.alive(); err != nil {
			return err
		}
		err = kill(p.pid, sig)
	}
	if err != nil {
		return p.errorf("send %v: %w", sig, goneIfMissing(err))
	}
	return nil
}
