package testenv

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/serverd"
)

// DefaultTrustDomain is the trust domain of a server whose Options name
// none.
const DefaultTrustDomain = "testenv.test"

// Options describe a server (and Start's agent). The zero value is usable.
type Options struct {
	// TrustDomain defaults to DefaultTrustDomain.
	TrustDomain string
	// SVIDTTL is the server's default X.509-SVID lifetime (default 1h).
	// Entries may set their own.
	SVIDTTL time.Duration
	// CATTL is the CA's lifetime (default 24h).
	CATTL time.Duration
	// HealthPort, when not 0, turns on the server's health and metrics
	// listener on 127.0.0.1:HealthPort (see FreePort).
	HealthPort int
	// ServerConfig, when set, adjusts the server's configuration last
	// (node attestors, notifiers, TTLs); restarts run with the result.
	ServerConfig func(*config.Server)
	// Federation sets what the server's configuration file cannot: the
	// roots that verify https_web bundle endpoints and a refresh floor
	// below a minute.
	Federation serverd.FederationOptions
	// CARotationCheckInterval, when not 0, is how often the CA checks its
	// rotation schedule (default 10s), for CA lifetimes of seconds.
	CARotationCheckInterval time.Duration
	// Log receives the daemons' logs; nil means Logger().
	Log *slog.Logger
	// Clock, when set, is the server's clock instead of the system's, so
	// that a test can move the server and an agent it runs on the same
	// clock through SVID lifetimes together.
	Clock server.Clock
}

func (o Options) withDefaults() Options {
	if o.TrustDomain == "" {
		o.TrustDomain = DefaultTrustDomain
	}
	if o.SVIDTTL == 0 {
		o.SVIDTTL = time.Hour
	}
	if o.CATTL == 0 {
		o.CATTL = 24 * time.Hour
	}
	if o.Log == nil {
		o.Log = Logger()
	}
	return o
}

// Env is one running server and one agent attested to it with a join token
// for the agent ID NodePath. Everything stops when the test ends.
type Env struct {
	// TrustDomain is the trust domain of server and agent.
	TrustDomain spiffeid.TrustDomain
	// Server is the running server.
	Server *Server
	// Agent is the running agent.
	Agent *Agent
}

// NodePath is the path of Start's agent's SPIFFE ID; entries for workloads
// of this agent have it as their parent.
const NodePath = "/node"

// Start runs a server and an agent named "agent" and returns once the
// agent's Workload API socket accepts connections.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	srv := StartServer(t, opts)
	ag := srv.StartAgent(t, "agent", srv.JoinToken(t, NodePath))
	return &Env{TrustDomain: srv.Layout.TrustDomain, Server: srv, Agent: ag}
}

// ID returns the SPIFFE ID with path in the Env's trust domain.
func (e *Env) ID(path string) spiffeid.ID { return mustID(e.TrustDomain, path) }

func mustID(td spiffeid.TrustDomain, path string) spiffeid.ID {
	id, err := spiffeid.FromPath(td, path)
	if err != nil {
		panic(fmt.Sprintf("testenv: SPIFFE ID path %q: %v", path, err))
	}
	return id
}

// Logger returns the logger daemons get when Options.Log is nil: debug
// logs on stderr when the environment variable TESTENV_LOG is set,
// nothing otherwise.
func Logger() *slog.Logger {
	if os.Getenv("TESTENV_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
