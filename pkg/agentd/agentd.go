// Package agentd assembles the svidkit agent daemon from its configuration:
// the agent core (attestation, sync, minting), the Workload API on a Unix
// socket with the configured workload attestors (unix, k8s), the
// health/metrics listener and profiling (package profiling).
package agentd

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/health"
	"github.com/svidkit/svidkit/pkg/profiling"
	"github.com/svidkit/svidkit/pkg/sds"
	"github.com/svidkit/svidkit/pkg/taskrun"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// Options are the process-level inputs that are not in the config file.
type Options struct {
	// Log receives the daemon's logs. Required.
	Log *slog.Logger
	// Started, when non-nil, is called once the Workload API socket
	// accepts connections.
	Started func(*agent.Agent)
}

// Run starts the agent described by cfg and blocks until ctx ends or a part
// fails. It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg *config.Agent, opts Options) error {
	log := opts.Log
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	bundle, err := loadTrustBundle(ctx, cfg)
	if err != nil {
		return err
	}
	keyStore := agent.KeyStoreDisk
	if cfg.KeyManager.Name == "memory" {
		keyStore = agent.KeyStoreMemory
	}
	dataDir := cfg.DataDir
	if cfg.KeyManager.Name == "disk" && cfg.KeyManager.Path != "" {
		dataDir = cfg.KeyManager.Path
	}
	nodeAtt, err := nodeAttestor(cfg)
	if err != nil {
		return err
	}
	a, err := agent.New(agent.Config{
		TrustDomain:          cfg.TrustDomain,
		ServerAddress:        cfg.ServerTarget(),
		TrustBundle:          bundle,
		InsecureBootstrap:    cfg.InsecureBootstrap,
		NodeAttestor:         nodeAtt,
		DataDir:              dataDir,
		KeyStore:             keyStore,
		JWTSVIDCacheMaxSize:  cfg.JWTSVIDCacheMaxSize,
		X509SVIDCacheMaxSize: cfg.X509SVIDCacheMaxSize,
		Log:                  log.With("subsystem", "agent"),
		Registerer:           reg,
	})
	if err != nil {
		return err
	}

	attestor, err := workloadAttestor(cfg, log)
	if err != nil {
		return err
	}
	// The agent serves Envoy's SDS v3 on the Workload API socket, as SPIRE's
	// agent does, so Envoy configs written for SPIRE work unchanged.
	sdsHandler := sds.New(sds.Config{
		Source:                      sdsSource{mgr: a.Manager(), att: attestor, td: cfg.TrustDomain},
		DefaultSVIDName:             cfg.SDS.DefaultSVIDName,
		DefaultBundleName:           cfg.SDS.DefaultBundleName,
		DefaultAllBundlesName:       cfg.SDS.DefaultAllBundlesName,
		DisableSPIFFECertValidation: cfg.SDS.DisableSPIFFECertValidation,
		Log:                         log.With("subsystem", "sds"),
		Registerer:                  reg,
	})
	handler := workloadapi.New(workloadapi.Config{
		Manager:    a.Manager(),
		Attestor:   attestor,
		Log:        log.With("subsystem", "workload_api"),
		Registerer: reg,
		Services:   []func(grpc.ServiceRegistrar){sdsHandler.Register},
	})

	pr := &probes{agent: a}
	tasks := []taskrun.Task{
		{Name: "agent", Run: a.Run},
		{Name: "workload api", Run: func(ctx context.Context) error {
			// Like SPIRE, serve workloads only once the node is attested.
			select {
			case <-a.Attested():
			case <-ctx.Done():
				return nil
			}
			lis, err := workloadapi.ListenUnix(ctx, cfg.SocketPath, unixsock.Config{
				SharedDir:  cfg.SocketDirShared,
				SharedHint: "socket_dir_shared = true in the agent block",
				Log:        log,
			})
			if err != nil {
				return fmt.Errorf("listen on socket_path: %w", err)
			}
			log.Info("workload api listening", "socket_path", cfg.SocketPath)
			pr.serving.Store(true)
			defer pr.serving.Store(false)
			if opts.Started != nil {
				opts.Started(a)
			}
			return handler.Serve(ctx, lis)
		}},
	}
	if cfg.Health.ListenerEnabled {
		hs := health.New(health.Config{
			BindAddress: cfg.Health.Addr(),
			LivePath:    cfg.Health.LivePath,
			ReadyPath:   cfg.Health.ReadyPath,
			Live:        pr.Live,
			Ready:       pr.Ready,
			Gatherer:    reg,
			Log:         log.With("subsystem", "health"),
		})
		tasks = append(tasks, taskrun.Task{Name: "health", Run: hs.Run})
	}
	if cfg.Telemetry.PrometheusEnabled {
		ms := health.New(health.Config{
			BindAddress: cfg.Telemetry.PrometheusAddr(),
			Live:        pr.Live,
			Ready:       pr.Ready,
			Gatherer:    reg,
			Log:         log.With("subsystem", "telemetry"),
		})
		tasks = append(tasks, taskrun.Task{Name: "prometheus", Run: ms.Run})
	}
	tasks = append(tasks, profiling.Tasks(cfg.Profiling.Runtime(cfg.DataDir, "agent", log.With("subsystem", "profiling")))...)
	log.Info("agent starting", "trust_domain", cfg.TrustDomain.Name(),
		"server_address", cfg.ServerAddress, "server_port", cfg.ServerPort)
	err = taskrun.Run(ctx, tasks...)
	log.Info("agent stopped")
	return err
}
