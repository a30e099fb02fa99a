package reloader

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// pidfdOpen returns a pidfd for pid (Linux 5.3 and later).
func pidfdOpen(pid int) (int, error) { return unix.PidfdOpen(pid, 0) }

// pidfdSendSignal sends sig to the process of the pidfd fd.
func pidfdSendSignal(fd int, sig syscall.Signal) error {
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}
