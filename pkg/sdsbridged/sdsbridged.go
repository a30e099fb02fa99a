package sdsbridged

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/health"
	"github.com/svidkit/svidkit/pkg/sds"
	"github.com/svidkit/svidkit/pkg/sdsbridge"
	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// Options are the process-level inputs that are not in the config file.
type Options struct {
	// Log receives the daemon's logs. Required.
	Log *slog.Logger
}

// Run runs the bridge described by a valid cfg until ctx ends or a part
// fails, and returns nil after a clean shutdown: the Workload API client,
// the SDS server on every listener and, if enabled, the health listener.
func Run(ctx context.Context, cfg sdsconfig.Config, opts Options) error {
	log := opts.Log
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
