package e2e_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/testenv"
)

// TestCLIRefusesReservedIDs reproduces issue 10 finding 9 with the
// svidkit-server CLI against a real server: a join token aliased to the
// server's own ID, and an entry below it, are refused with a message
// naming the reserved namespace. Before the fix both succeeded (and the
// token's agent could mint a certificate for spiffe://…/spire/server, see
// pkg/server TestJoinTokenAliasCannotBeTheServerID).
func TestCLIRefusesReservedIDs(t *testing.T) {
	s := startServer(t, testenv.Options{})
	prefix := "spiffe://" + trustDomain
	tests := []struct {
		name string
		args []string
	}{
		{"token generate with the server ID", []string{"token", "generate", "-spiffeID", prefix + "/spire/server"}},
		{"entry create below the server ID", []string{"entry", "create",
			"-parentID", prefix + testenv.NodePath, "-spiffeID", prefix + "/spire/server/x", "-selector", "unix:uid:1"}},
		{"node entry in the agent namespace", []string{"entry", "create", "-node",
			"-spiffeID", prefix + "/spire/agent/x", "-selector", "unix:uid:1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runServerCLI(s, tc.args...)
			if code == 0 || !strings.Contains(errOut, "reserved namespace") {
				t.Fatalf("exit %d, want non-zero naming the reserved namespace\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		})
	}
}
