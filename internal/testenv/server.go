package testenv

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/serverd"
)

// Server is a running svidkit server and a client of its admin API (the
// embedded Admin).
type Server struct {
	*Admin
	// Layout holds the server's and its agents' state and sockets.
	Layout *Layout
	// TCPAddr is the agent API's host:port; it stays the same across
	// Restart.
	TCPAddr string

	cfg *config.Server
	// daemon holds the serverd options besides Log and Started.
	daemon serverd.Options
	log    *slog.Logger
	stop   func()
}

// StartServer runs a server configured by Layout.ServerConfig and opts,
// on any free port, and returns once its listeners accept connections.
func StartServer(t testing.TB, opts Options) *Server {
	t.Helper()
	opts = opts.withDefaults()
	td, err := spiffeid.TrustDomainFromString(opts.TrustDomain)
	if err != nil {
		t.Fatalf("testenv: trust domain: %v", err)
	}
	l := NewLayout(t, td)
	cfg := l.ServerConfig(0) // any free port: never collide with a real server on 8081
	cfg.CATTL = opts.CATTL
	cfg.DefaultX509SVIDTTL = opts.SVIDTTL
	if opts.HealthPort != 0 {
		cfg.Health.ListenerEnabled = true
		cfg.Health.BindAddress = "127.0.0.1"
		cfg.Health.BindPort = opts.HealthPort
	}
	if opts.ServerConfig != nil {
		opts.ServerConfig(cfg)
	}
	s := &Server{Layout: l, cfg: cfg, log: opts.Log, daemon: serverd.Options{
		Clock: opts.Clock, Federation: opts.Federation, CARotationCheckInterval: opts.CARotationCheckInterval,
	}}
	s.start(t)
	return s
}

// start runs the server with s.cfg and fixes its port, so that a restart
// listens where agents look for it.
func (s *Server) start(t testing.TB) {
	t.Helper()
	log := s.log.With("daemon", "server")
	srv, stop := run(t, "server", func(ctx context.Context, started func(*server.Server)) error {
		o := s.daemon
		o.Log, o.Started = log, started
		return serverd.Run(ctx, s.cfg, o)
	})
	s.stop = stop
	s.TCPAddr = srv.TCPAddr().String()
	if _, port, err := net.SplitHostPort(s.TCPAddr); err == nil {
		s.cfg.BindPort, _ = strconv.Atoi(port)
	}
	// A fresh connection per start: calls right after a restart need not
	// wait out the backoff of one that saw the server go.
	s.Admin = DialAdmin(t, s.Layout.AdminSocket, s.Layout.TrustDomain)
}

// Stop stops the server; agents keep running. Stopping twice is harmless.
func (s *Server) Stop() { s.stop() }

// Restart stops the server if it runs and starts it again on the same port
// with the same state (datastore, CA keys), as a restarted daemon would.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop()
	s.start(t)
}

// ID returns the SPIFFE ID with path in the server's trust domain.
func (s *Server) ID(path string) spiffeid.ID {
	return mustID(s.Layout.TrustDomain, path)
}
