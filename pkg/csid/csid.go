package csid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/csi"
	"github.com/svidkit/svidkit/pkg/grpcstop"
	"github.com/svidkit/svidkit/pkg/health"
	"github.com/svidkit/svidkit/pkg/taskrun"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

const (
	// socketMode lets only root (the kubelet and the node driver
	// registrar) use the CSI socket.
	socketMode = 0o600
	// socketDirMode is the mode of a socket directory Run creates.
	socketDirMode = 0o755
	// stopGrace is how long in-flight CSI calls get at shutdown.
	stopGrace = 5 * time.Second
)

// Config is the daemon's validated configuration.
type Config struct {
	// Driver configures the CSI driver; its Log and Registerer are set by
	// Run.
	Driver csi.Config
	// CSISocketPath is where the kubelet reaches the driver.
	CSISocketPath string
	// HealthAddress is host:port of the /live, /ready and /metrics
	// listener; empty disables it.
	HealthAddress string
}

// Run serves the driver until ctx ends or a part fails, and returns nil
// after a clean shutdown.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dcfg := cfg.Driver
	dcfg.Log, dcfg.Registerer = log, reg
	driver, err := csi.New(dcfg)
	if err != nil {
		return err
	}
	ln, err := unixsock.Listen(ctx, cfg.CSISocketPath, unixsock.Config{
		Mode:        socketMode,
		DirMode:     socketDirMode,
		RefuseInUse: true,
		Log:         log,
	})
	if err != nil {
		return fmt.Errorf("csi socket %q: %w", cfg.CSISocketPath, err)
	}
	srv := grpc.NewServer()
	driver.Register(srv)
	tasks := []taskrun.Task{{Name: "csi server", Run: func(ctx context.Context) error { return serve(ctx, srv, ln) }}}
	if cfg.HealthAddress != "" {
		hs := health.New(health.Config{BindAddress: cfg.HealthAddress, Ready: driver.Ready, Gatherer: reg, Log: log})
		tasks = append(tasks, taskrun.Task{Name: "health", Run: hs.Run})
	}
	if !driver.Ready() {
		log.Warn("workload API socket directory does not exist yet: not ready until it does", "dir", dcfg.WorkloadAPISocketDir)
	}
	log.Info("svidkit-csi started", "version", driver.Version(), "plugin_name", driver.Name(), "node_id", dcfg.NodeID,
		"csi_socket", cfg.CSISocketPath, "workload_api_socket_dir", dcfg.WorkloadAPISocketDir)
	err = taskrun.Run(ctx, tasks...)
	log.Info("svidkit-csi stopped")
	return err
}

// serve serves srv on ln until ctx ends or serving fails, then stops
// within stopGrace and closes ln (removing the socket).
func serve(ctx context.Context, srv *grpc.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var failed error
	select {
	case <-ctx.Done():
		grpcstop.Graceful(stopGrace, srv)
		if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			failed = err
		}
	case err := <-errc:
		failed = fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		failed = errors.Join(failed, err)
	}
	return failed
}
