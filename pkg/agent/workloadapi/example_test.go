package workloadapi_test

import (
	"context"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest/unix"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// Example serves the Workload API on SPIRE's default public socket until
// SIGTERM. The Manager is the agent's SVID cache.
func Example() {
	var cache workloadapi.Manager // the agent's cache, built elsewhere

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()

	lis, err := workloadapi.ListenUnix(context.Background(), "/tmp/spire-agent/public/api.sock", unixsock.Config{})
	if err != nil {
		slog.Error("listen", "error", err)
		return
	}
	h := workloadapi.New(workloadapi.Config{
		Manager:    cache,
		Attestor:   unix.New(unix.Config{}),
		Log:        slog.Default(),
		Registerer: prometheus.DefaultRegisterer,
	})
	if err := h.Serve(ctx, lis); err != nil {
		slog.Error("workload api", "error", err)
	}
}
