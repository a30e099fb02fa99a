package sdscli

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

	"github.com/svidkit/svidkit/pkg/grpcstop"
	"github.com/svidkit/svidkit/pkg/health"
	"github.com/svidkit/svidkit/pkg/sds"
	"github.com/svidkit/svidkit/pkg/sdsbridge"
	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// stopGrace is how long in-flight RPCs get to finish at shutdown; SDS
// streams never finish on their own, so they are cut after it.
const stopGrace = 2 * time.Second

// Serve runs the bridge with a valid cfg until ctx ends, and returns nil
// then: the Workload API client, the SDS server on every listener and, if
// enabled, the health listener.
func Serve(ctx context.Context, cfg sdsconfig.Config, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bridge, err := sdsbridge.New(sdsbridge.Config{Address: cfg.AgentAddress, Log: log, Registerer: reg})
	if err != nil {
		return err
	}
	handler := sds.New(sds.Config{
		Source:                      bridge,
		DefaultSVIDName:             cfg.DefaultSVIDName,
		DefaultBundleName:           cfg.DefaultBundleName,
		DefaultAllBundlesName:       cfg.DefaultAllBundlesName,
		DisableSPIFFECertValidation: cfg.DisableSPIFFECertValidation,
		Log:                         log,
		Registerer:                  reg,
	})
	specs, err := cfg.Listeners()
	if err != nil {
		return err
	}
	var lns []net.Listener
	for _, l := range specs {
		ln, err := listen(ctx, l, cfg, log)
		if err != nil {
			return errors.Join(err, closeAll(lns))
		}
		lns = append(lns, ln)
		log.Info("serving SDS", "listen", l.String())
	}
	srv := grpc.NewServer()
	handler.Register(srv)

	tasks := []taskrun.Task{
		{Name: "workload API bridge", Run: bridge.Run},
		{Name: "sds server", Run: func(ctx context.Context) error { return serveGRPC(ctx, srv, lns) }},
	}
	if h := cfg.HealthChecks; h.ListenerEnabled {
		hs := health.New(health.Config{
			BindAddress: h.Address(),
			LivePath:    h.LivePath,
			ReadyPath:   h.ReadyPath,
			Ready:       bridge.Ready,
			Gatherer:    reg,
			Log:         log,
		})
		tasks = append(tasks, taskrun.Task{Name: "health", Run: hs.Run})
	}
	log.Info("svidkit-sds started", "workload_api", bridge.Address())
	err = taskrun.Run(ctx, tasks...)
	log.Info("svidkit-sds stopped")
	return err
}

// serveGRPC serves srv on every listener until ctx ends or one fails. At
// the end it stops gracefully within stopGrace and closes the listeners
// (removing the Unix sockets).
func serveGRPC(ctx context.Context, srv *grpc.Server, lns []net.Listener) error {
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() {
			if err := srv.Serve(ln); err != nil {
				errc <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
				return
			}
			errc <- nil
		}()
	}
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-errc:
	}
	grpcstop.Graceful(stopGrace, srv)
	pending := len(lns)
	if failed != nil {
		pending--
	}
	for range pending {
		if err := <-errc; err != nil && failed == nil {
			failed = err
		}
	}
	return errors.Join(failed, closeAll(lns))
}

// closeAll closes listeners that may already be closed.
func closeAll(lns []net.Listener) error {
	var errs []error
	for _, ln := range lns {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
