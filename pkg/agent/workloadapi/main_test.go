package workloadapi_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// peerRoleEnv makes the test binary act as a Workload API peer process
// instead of running the tests; see runPeer.
const peerRoleEnv = "WORKLOADAPI_TEST_PEER"

// Peer roles: what the peer does after handing its connection over.
const (
	peerHold = "hold" // keep running until stdin closes
	peerExit = "exit" // exit at once
	peerExec = "exec" // exec $WORKLOADAPI_TEST_EXEC, keeping the same pid
)

func TestMain(m *testing.M) {
	if role := os.Getenv(peerRoleEnv); role != "" {
		if err := runPeer(role); err != nil {
			fmt.Fprintln(os.Stderr, "peer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runPeer connects to the Workload API socket $WORKLOADAPI_TEST_SOCK,
// waits until the server has completed its handshake for the connection
// (the server writes its HTTP/2 settings only afterwards), and passes the
// connection to its parent over fd 3 (SCM_RIGHTS). Then it acts out role.
// For peerExec, fd 4 is a pipe to the parent that the exec closes, so the
// parent learns the moment the peer runs the other program.
func runPeer(role string) error {
	conn, err := net.Dial("unix", os.Getenv("WORKLOADAPI_TEST_SOCK"))
	if err != nil {
		return err
	}
	if err := awaitServerBytes(conn.(*net.UnixConn)); err != nil {
		return fmt.Errorf("wait for the server's handshake: %w", err)
	}
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(3, []byte{'c'}, unix.UnixRights(int(f.Fd())), nil, 0); err != nil {
		return fmt.Errorf("pass the connection: %w", err)
	}
	switch role {
	case peerHold:
		_, err := io.Copy(io.Discard, os.Stdin)
		return err
	case peerExit:
		return nil
	case peerExec:
		unix.CloseOnExec(4)
		prog := os.Getenv("WORKLOADAPI_TEST_EXEC")
		return syscall.Exec(prog, []string{prog, "600"}, os.Environ())
	default:
		return fmt.Errorf("unknown role %q", role)
	}
}

// awaitServerBytes blocks until the server has sent something, without
// consuming it: the gRPC client the parent runs on the connection must
// still read the server's settings frame.
func awaitServerBytes(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var peekErr error
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK)
		if errors.Is(err, unix.EAGAIN) {
			return false
		}
		switch {
		case err != nil:
			peekErr = err
		case n == 0:
			peekErr = io.EOF
		}
		return true
	})
	return errors.Join(err, peekErr)
}
