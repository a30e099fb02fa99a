package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Layout is where one test's server and agents keep their state and
// sockets. Everything is removed when the test ends.
type Layout struct {
	// TrustDomain is the trust domain of the server and its agents.
	TrustDomain spiffeid.TrustDomain
	// Dir is the daemons' private state directory: "server" holds the
	// server's, "agent-<name>" each agent's.
	Dir string
	// AdminSocket is the server's admin API socket, in a directory only
	// this user can enter.
	AdminSocket string
	// sockDir holds the Workload API sockets; every user can enter it.
	sockDir string
}

// NewLayout creates the directories of a Layout for td.
func NewLayout(t testing.TB, td spiffeid.TrustDomain) *Layout {
	t.Helper()
	sock, err := os.MkdirTemp("", "svte")
	if err != nil {
		t.Fatalf("testenv: socket directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(sock) })
	// Workloads may run as other users (a database's uid): they must be
	// able to reach the agents' sockets, whose own mode is 0777.
	if err := os.Chmod(sock, 0o755); err != nil {
		t.Fatalf("testenv: socket directory: %v", err)
	}
	admin := filepath.Join(sock, "admin")
	if err := os.Mkdir(admin, 0o700); err != nil {
		t.Fatalf("testenv: admin socket directory: %v", err)
	}
	return &Layout{
		TrustDomain: td,
		Dir:         t.TempDir(),
		AdminSocket: filepath.Join(admin, "api.sock"),
		sockDir:     sock,
	}
}

// AgentSocket returns the Workload API socket path of agent name.
func (l *Layout) AgentSocket(name string) string {
	return filepath.Join(l.sockDir, name+".sock")
}

// BundlePath is the file agents bootstrap their trust in the server from.
func (l *Layout) BundlePath() string { return filepath.Join(l.Dir, "bundle.pem") }
