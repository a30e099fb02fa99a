// Package peercred provides gRPC transport credentials for Unix domain
// sockets that identify the calling process by the kernel's peer
// credentials (SO_PEERCRED): its pid, uid and gid, and a handle on the
// process itself (procid.Process) that tells later whether the pid still
// names the process that connected, running the same executable. The
// Workload API uses them to attest the caller without any secret on the
// wire.
package peercred

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/svidkit/svidkit/pkg/procid"
)

// AuthType is the value AuthInfo.AuthType returns.
const AuthType = "peercred"

// Info is the identity of the process at the other end of a Unix socket, as
// recorded by the kernel when it connected.
type Info struct {
	// PID is the peer's process id in this process's pid namespace.
	PID int32
	// UID and GID are the peer's effective user and group ids.
	UID uint32
	GID uint32
	// Process is the process that connected, identified at the handshake
	// (by the pidfd the kernel keeps for the connection where it has
	// SO_PEERPIDFD, Linux 6.5 and later). It is released when the
	// connection closes.
	Process *procid.Process
}

// AuthInfo carries a connection's peer credentials through gRPC; handlers
// read it with FromContext.
type AuthInfo struct {
	credentials.CommonAuthInfo
	Info Info
}

// AuthType reports "peercred".
func (AuthInfo) AuthType() string { return AuthType }

// FromContext returns the caller's peer credentials of a gRPC call served
// with the credentials of New. It reports false when the call did not come
// through them.
func FromContext(ctx context.Context) (Info, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Info{}, false
	}
	ai, ok := p.AuthInfo.(AuthInfo)
	if !ok {
		return Info{}, false
	}
	return ai.Info, true
}

// ErrUnsupported is returned by the handshake where the platform has no
// SO_PEERCRED.
var ErrUnsupported = errors.New("peercred: peer credentials are not supported on this platform")

// New returns transport credentials whose server handshake records the
// peer credentials of each Unix socket connection. They add no encryption:
// a Unix socket never leaves the host. The client side is a no-op, so a
// client may use these or insecure credentials.
func New() credentials.TransportCredentials { return creds{} }

type creds struct{}

// ClientHandshake passes the connection through untouched.
func (creds) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return conn, AuthInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

// ServerHandshake reads the peer credentials of the accepted connection
// and opens a handle on the peer process, which the returned connection
// releases when it is closed. A connection that is not a Unix socket, or
// whose peer has already exited, is refused.
func (creds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	info, err := readCred(conn)
	if err != nil {
		return nil, nil, fmt.Errorf("peercred: server handshake: %w", err)
	}
	// A Unix socket is local to the host, so it offers the same guarantees as
	// gRPC's own "local" credentials give it.
	return &procConn{Conn: conn, proc: info.Process}, AuthInfo{
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		Info:           info,
	}, nil
}

// procConn is a server connection that releases its peer's process handle
// when it is closed.
type procConn struct {
	net.Conn
	proc *procid.Process
	once sync.Once
	err  error
}

// Close closes the connection and releases the process handle.
func (c *procConn) Close() error {
	c.once.Do(func() { c.err = errors.Join(c.Conn.Close(), c.proc.Close()) })
	return c.err
}

// Info describes the credentials.
func (creds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: AuthType}
}

// Clone returns the credentials; they hold no state.
func (c creds) Clone() credentials.TransportCredentials { return c }

// OverrideServerName is a no-op: peer credentials involve no server name.
func (creds) OverrideServerName(string) error { return nil }
