package profiling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
)

// endpointShutdownGrace bounds how long the endpoint waits for requests in
// flight at shutdown; a CPU profile request may run for many seconds, so it
// is cut rather than waited for (SPIRE waits 500 ms too).
const endpointShutdownGrace = 500 * time.Millisecond

// Endpoint serves Go's pprof endpoints (/debug/pprof/...) on
// 127.0.0.1:port: loopback only, because profiles reveal the daemon's
// memory and code, and a CPU profile request costs the daemon CPU.
type Endpoint struct {
	addr string
	log  *slog.Logger
}

// NewEndpoint returns the endpoint for port; it does not listen until Run.
func NewEndpoint(port int, log *slog.Logger) *Endpoint {
	return &Endpoint{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: log}
}

// Handler returns the pprof handlers on a mux of their own. Importing
// net/http/pprof also registers them on http.DefaultServeMux, which no
// svidkit listener serves.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also every named profile: /debug/pprof/heap, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Run listens and serves until ctx ends, then returns nil. It returns an
// error if it cannot listen (the port is taken) or serving fails.
func (e *Endpoint) Run(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", e.addr)
	if err != nil {
		return fmt.Errorf("profiling: listen on %s: %w", e.addr, err)
	}
	srv := &http.Server{
		Handler:           Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	e.log.Info("profiling endpoint listening", "address", ln.Addr().String(), "path", "/debug/pprof/")

	select {
	case err := <-served:
		return fmt.Errorf("profiling: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endpointShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("profiling: serve: %w", err)
	}
	return nil
}
