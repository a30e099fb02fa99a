// Package freeport picks loopback TCP ports for tests, tools and the demo
// that must pass a port to a child process before it listens. The port was
// free a moment ago; another process may take it before the child does.
package freeport

import (
	"fmt"
	"net"
	"strconv"
	"testing"
)

// Port returns a TCP port on 127.0.0.1 that nothing listened on a moment
// ago.
func Port() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ForTest returns Port, or fails tb.
func ForTest(tb testing.TB) int {
	tb.Helper()
	p, err := Port()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Addr returns "127.0.0.1:<port>" for a port from ForTest.
func Addr(tb testing.TB) string {
	tb.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ForTest(tb)))
}
