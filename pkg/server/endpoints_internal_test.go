package server

import (
	"context"
	"io"
	"testing"

	"github.com/svidkit/svidkit/internal/sockrace"
)

// TestSockraceChild is the attacker process of TestListenAdminSocketSymlinkRace.
func TestSockraceChild(t *testing.T) { sockrace.RunChild(t) }

// TestListenAdminSocketSymlinkRace reproduces finding 1 of issue 10 against
// the admin socket: a symlink renamed over the socket between bind and
// chmod made root set its target's mode to 0770.
func TestListenAdminSocketSymlinkRace(t *testing.T) {
	sockrace.Attack(t, sockrace.Target{
		ChildTest: "TestSockraceChild",
		Listen:    func(path string) (io.Closer, error) { return listenAdminSocket(context.Background(), path, false, nil) },
	})
}
