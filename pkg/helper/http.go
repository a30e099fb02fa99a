package helper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/reloader"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// shutdownGrace bounds how long an HTTP listener waits for requests in
// flight when the helper stops.
const shutdownGrace = 5 * time.Second

// httpTasks returns the health listener (health_checks, on all interfaces
// like spiffe-helper) and the metrics listener (metrics_bind_address), as
// configured. Without metrics_bind_address, /metrics is on the health
// listener.
func (h *Helper) httpTasks(counts func() reloader.Counts) []taskrun.Task {
	var tasks []taskrun.Task
	hc := h.cfg.Health
	metrics := h.metricsHandler(counts)
	if hc.ListenerEnabled {
		mux := http.NewServeMux()
		mux.Handle(hc.LivenessPath, h.probe(h.state.live))
		mux.Handle(hc.ReadinessPath, h.probe(func() bool { return h.state.ready(time.Now()) }))
		if h.cfg.MetricsBindAddress == "" {
			mux.Handle("/metrics", metrics)
		}
		addr := ":" + strconv.Itoa(hc.BindPort)
		tasks = append(tasks, taskrun.Task{Name: "health", Run: func(ctx context.Context) error { return h.serve(ctx, "health", addr, mux) }})
	}
	if a := h.cfg.MetricsBindAddress; a != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics)
		tasks = append(tasks, taskrun.Task{Name: "metrics", Run: func(ctx context.Context) error { return h.serve(ctx, "metrics", a, mux) }})
	}
	return tasks
}

// probe answers with spiffe-helper's JSON: 200 {"status":"OK","health":…}
// or 503 {"status":"Service Unavailable","health":…}.
func (h *Helper) probe(ok func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		code := http.StatusOK
		if !ok() {
			code = http.StatusServiceUnavailable
		}
		var body healthBody
		body.Status = http.StatusText(code)
		h.state.snapshot(&body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
}

// serve listens on addr and serves handler until ctx ends.
func (h *Helper) serve(ctx context.Context, name, addr string, handler http.Handler) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listener on %q: %w", name, addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	h.log.Info(name+" listener started", "address", ln.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("%s listener: %w", name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s listener: %w", name, err)
	}
	return nil
}
