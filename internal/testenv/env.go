package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultTrustDomain is the trust domain of an Env whose Options name none.
const DefaultTrustDomain = "testenv.test"

// startTimeout bounds how long a daemon may take to start or stop.
const startTimeout = 30 * time.Second

// Options describe an Env. The zero value is usable.
type Options struct {
	// TrustDomain defaults to DefaultTrustDomain.
	TrustDomain string
	// SVIDTTL is the server's default X.509-SVID lifetime (default 1h).
	// Entries may set their own.
	SVIDTTL time.Duration
	// CATTL is the CA's lifetime (default 24h).
	CATTL time.Duration
	// Log receives both daemons' logs; nil discards them unless the
	// environment variable TESTENV_LOG is set, which logs to stderr.
	Log *slog.Logger
}

// Env is one running server and one agent attested to it with a join token
// for the agent ID /node. Everything stops when the test ends.
type Env struct {
	// TrustDomain is the trust domain of server and agent.
	TrustDomain spiffeid.TrustDomain
	// Server is the running server.
	Server *Server
	// Agent is the running agent.
	Agent *Agent
}

// NodePath is the path of the agent's SPIFFE ID; entries for workloads of
// this agent have it as their parent.
const NodePath = "/node"

// Start runs a server and an agent and returns once the agent's Workload
// API socket accepts connections.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.TrustDomain == "" {
		opts.TrustDomain = DefaultTrustDomain
	}
	td, err := spiffeid.TrustDomainFromString(opts.TrustDomain)
	if err != nil {
		t.Fatalf("testenv: trust domain: %v", err)
	}
	if opts.SVIDTTL == 0 {
		opts.SVIDTTL = time.Hour
	}
	if opts.CATTL == 0 {
		opts.CATTL = 24 * time.Hour
	}
	if opts.Log == nil {
		opts.Log = defaultLogger()
	}
	dirs := newDirs(t)
	srv := startServer(t, td, dirs, opts)
	ag := startAgent(t, td, dirs, srv, opts.Log)
	return &Env{TrustDomain: td, Server: srv, Agent: ag}
}

// ID returns the SPIFFE ID with path in the Env's trust domain.
func (e *Env) ID(path string) spiffeid.ID {
	id, err := spiffeid.FromPath(e.TrustDomain, path)
	if err != nil {
		panic(fmt.Sprintf("testenv: SPIFFE ID path %q: %v", path, err))
	}
	return id
}

func defaultLogger() *slog.Logger {
	if os.Getenv("TESTENV_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// dirs are an Env's directories.
type dirs struct {
	data      string // daemons' state, private
	adminSock string // the admin socket, in a directory only this user can enter
	agentSock string // the Workload API socket, in a directory every user can enter
}

func newDirs(t testing.TB) dirs {
	t.Helper()
	sock, err := os.MkdirTemp("", "svte")
	if err != nil {
		t.Fatalf("testenv: socket directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(sock) })
	// Workloads may run as other users (a database's uid): they must be
	// able to reach the agent's socket, whose own mode is 0777.
	if err := os.Chmod(sock, 0o755); err != nil {
		t.Fatalf("testenv: socket directory: %v", err)
	}
	admin := filepath.Join(sock, "admin")
	if err := os.Mkdir(admin, 0o700); err != nil {
		t.Fatalf("testenv: admin socket directory: %v", err)
	}
	return dirs{
		data:      t.TempDir(),
		adminSock: filepath.Join(admin, "api.sock"),
		agentSock: filepath.Join(sock, "agent.sock"),
	}
}

// run starts a daemon's Run in a goroutine, waits for it to report that it
// serves, and registers its shutdown with t.Cleanup.
func run[T any](t testing.TB, name string, fn func(ctx context.Context, started func(T)) error) T {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan T, 1)
	done := make(chan error, 1)
	go func() { done <- fn(ctx, func(v T) { started <- v }) }()
	var v T
	select {
	case v = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("testenv: %s exited before serving: %v", name, err)
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("testenv: %s did not serve within %s", name, startTimeout)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("testenv: %s: %v", name, err)
			}
		case <-time.After(startTimeout):
			t.Errorf("testenv: %s did not stop within %s", name, startTimeout)
		}
	})
	return v
}
