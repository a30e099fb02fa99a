package procid

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenPID opens process pid under root with a pidfd from pidfd_open(2).
// Where there is no pidfd_open (before Linux 5.3, or refused with EPERM by a
// seccomp filter) the handle relies on the start time alone. A pidfd opened
// from a pid can only name the process that has the pid now: prefer one
// the kernel hands out for a connection (SO_PEERPIDFD) and use this where
// there is none.
func OpenPID(root string, pid int32) (*Process, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("procid: invalid pid %d", pid)
	}
	fd, err := unix.PidfdOpen(int(pid), 0)
	switch {
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
		return Open(root, pid, nil)
	case errors.Is(err, unix.ESRCH):
		return nil, fmt.Errorf("procid: pid %d: pidfd_open: %w", pid, ErrGone)
	case err != nil:
		return nil, fmt.Errorf("procid: pid %d: pidfd_open: %w", pid, err)
	}
	return Open(root, pid, os.NewFile(uintptr(fd), "pidfd"))
}

// signalZero sends no signal to the process pidfd names, which tells
// whether it is still there: ESRCH once it has exited (and been reaped).
// EPERM means it is there but this process may not signal it.
func signalZero(pidfd int) error {
	err := unix.PidfdSendSignal(pidfd, 0, nil, 0)
	switch {
	case err == nil, errors.Is(err, unix.EPERM):
		return nil
	case errors.Is(err, unix.ESRCH):
		return ErrGone
	}
	return err
}

// pidfdSignal sends sig to the process pidfd names.
func pidfdSignal(pidfd int, sig syscall.Signal) error {
	return unix.PidfdSendSignal(pidfd, sig, nil, 0)
}

// kill sends sig to whichever process has pid now.
func kill(pid int32, sig syscall.Signal) error { return unix.Kill(int(pid), sig) }

// readStatField reads numeric field n from a /proc/<pid>/stat file. The
// file is read into a stack buffer: this runs on every attestation.
func readStatField(path string, n int) (uint64, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	// A stat line is at most ~1 KB: 52 numeric fields and a 16-byte name.
	var buf [2048]byte
	size := 0
	for size < len(buf) {
		m, err := unix.Read(fd, buf[size:])
		if err != nil {
			return 0, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		size += m
	}
	v, err := statField(buf[:size], n)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// statID returns the identity of the file at path, following links.
func statID(path string) (FileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return FileID{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, nil //nolint:unconvert // widths differ by platform
}
