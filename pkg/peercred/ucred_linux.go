package peercred

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// readCred reads SO_PEERCRED from the socket under conn.
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
		cred    *unix.Ucred
		credErr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Info{}, fmt.Errorf("control socket: %w", err)
	}
	if credErr != nil {
		return Info{}, fmt.Errorf("getsockopt SO_PEERCRED: %w", credErr)
	}
	if cred.Pid <= 0 {
		// The peer is in another pid namespace that cannot be mapped to ours.
		return Info{}, errors.New("peer pid is not visible from this pid namespace")
	}
	return Info{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
}
