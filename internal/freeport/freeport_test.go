package freeport

import (
	"net"
	"testing"
)

// TestAddrListens: the address returned can be listened on, which is what
// callers hand to their children.
func TestAddrListens(t *testing.T) {
	addr := Addr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	l.Close()
}
