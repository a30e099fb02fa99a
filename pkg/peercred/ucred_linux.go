package peercred

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/svidkit/svidkit/pkg/procid"
)

// procRoot is where the handshake looks the peer up.
const procRoot = "/proc"

// readCred reads SO_PEERCRED from the socket under conn and opens the peer
// process: by the pidfd of SO_PEERPIDFD, which names the process that
// connected even if it has exited since, or, on kernels without it (before
// 6.5), by pidfd_open of the pid, which names whatever process has the pid
// at this moment.
func readCred(conn net.Conn) (Info, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return Info{}, fmt.Errorf("connection of type %T has no file descriptor", conn)
	}
	if _, ok := conn.LocalAddr().(*net.UnixAddr); !ok {
		return Info{}, fmt.Errorf("connection on %s is not a unix socket", conn.LocalAddr().Network())
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return Info{}, fmt.Errorf("raw connection: %w", err)
	}
	var (
		cred     *unix.Ucred
		credErr  error
		pidfd    = -1
		pidfdErr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if credErr == nil {
			pidfd, pidfdErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD)
		}
	}); err != nil {
		return Info{}, fmt.Errorf("control socket: %w", err)
	}
	if credErr != nil {
		return Info{}, fmt.Errorf("getsockopt SO_PEERCRED: %w", credErr)
	}
	var pidFile *os.File
	switch {
	case pidfdErr == nil:
		pidFile = os.NewFile(uintptr(pidfd), "pidfd")
	case errors.Is(pidfdErr, unix.ENOPROTOOPT):
		// Older kernel: fall back to pidfd_open below.
	default:
		return Info{}, fmt.Errorf("getsockopt SO_PEERPIDFD: %w", pidfdErr)
	}
	if cred.Pid <= 0 {
		// The peer is in another pid namespace that cannot be mapped to ours.
		return Info{}, errors.Join(errors.New("peer pid is not visible from this pid namespace"), closeFile(pidFile))
	}
	var proc *procid.Process
	if pidFile != nil {
		proc, err = procid.Open(procRoot, cred.Pid, pidFile)
	} else {
		proc, err = procid.OpenPID(procRoot, cred.Pid)
	}
	if err != nil {
		return Info{}, fmt.Errorf("identify peer process: %w", err)
	}
	return Info{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid, Process: proc}, nil
}

func closeFile(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}
