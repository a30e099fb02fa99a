package workloadapi_test

import (
	"context"
	"io"
	"testing"

	"github.com/svidkit/svidkit/internal/sockrace"
	"github.com/svidkit/svidkit/pkg/unixsock"
	"github.com/svidkit/svidkit/pkg/workloadapi"
)

// TestSockraceChild is the attacker process of TestListenUnixSymlinkRace.
func TestSockraceChild(t *testing.T) { sockrace.RunChild(t) }

// TestListenUnixSymlinkRace reproduces finding 1 of issue 10 against the
// agent's Workload API socket: a user who can write the socket's directory
// renames a symlink over the socket between bind and chmod, and the agent
// (root) makes the symlink's target world-writable.
func TestListenUnixSymlinkRace(t *testing.T) {
	sockrace.Attack(t, sockrace.Target{
		ChildTest: "TestSockraceChild",
		Listen: func(path string) (io.Closer, error) {
			return workloadapi.ListenUnix(context.Background(), path, unixsock.Config{})
		},
	})
}
