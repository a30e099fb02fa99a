// Package health serves the liveness and readiness probes and the
// Prometheus metrics of a svidkit daemon on one HTTP listener, the
// health_checks listener of SPIRE's configuration.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownGrace bounds how long Run waits for in-flight requests on cancel.
const shutdownGrace = 5 * time.Second

// Config configures the listener. Live and Ready are called on every probe
// request, possibly concurrently, and must be safe for that.
type Config struct {
	// BindAddress is host:port to listen on; port 0 picks a free port.
	BindAddress string
	// LivePath and ReadyPath default to /live and /ready.
	LivePath, ReadyPath string
	// Live and Ready report the probe states; nil means always true.
	Live, Ready func() bool
	// Gatherer supplies /metrics; nil leaves /metrics unserved.
	Gatherer prometheus.Gatherer
	// Log receives listener errors; nil discards them.
	Log *slog.Logger
}

// Server is the health and metrics HTTP listener.
type Server struct {
	cfg       Config
	listening chan struct{}

	mu   sync.Mutex
	addr net.Addr
}

// New returns a Server for cfg with defaults filled in. It does not listen
// until Run.
func New(cfg Config) *Server {
	if cfg.LivePath == "" {
		cfg.LivePath = "/live"
	}
	if cfg.ReadyPath == "" {
		cfg.ReadyPath = "/ready"
	}
	if cfg.Live == nil {
		cfg.Live = func() bool { return true }
	}
	if cfg.Ready == nil {
		cfg.Ready = func() bool { return true }
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, listening: make(chan struct{})}
}

// Handler returns the HTTP handler serving the probes and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(s.cfg.LivePath, probe("live", s.cfg.Live))
	mux.Handle(s.cfg.ReadyPath, probe("ready", s.cfg.Ready))
	if s.cfg.Gatherer != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// Run listens on BindAddress and serves until ctx ends, then shuts down
// gracefully and returns nil. It returns an error if it cannot listen or
// the server fails. Call it at most once.
func (s *Server) Run(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.BindAddress)
	if err != nil {
		return fmt.Errorf("health: listen on %q: %w", s.cfg.BindAddress, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	close(s.listening)

	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.cfg.Log.Info("health listener started", "address", ln.Addr().String())

	select {
	case err := <-serveErr:
		return fmt.Errorf("health: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health: serve: %w", err)
	}
	return nil
}

// Listening returns a channel closed once Run has bound its listener.
func (s *Server) Listening() <-chan struct{} { return s.listening }

// Addr returns the bound address once listening (see Listening), else nil.
// Tests listening on port 0 use it to find the port.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// probe answers 200 {"<name>": true} or 503 {"<name>": false}.
func probe(name string, state func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ok := state()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]bool{name: ok})
	})
}
