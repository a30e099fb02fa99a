// Package serverd assembles the svidkit server daemon from its configuration:
// datastore, CA, node attestors (join_token built in, k8s_psat), the
// spire-api-sdk APIs, the k8sbundle notifier, the Kubernetes registrar,
// federation (the bundle
// endpoint and the foreign bundle manager), the health/metrics
// listener and profiling (package profiling). It
// owns their lifetimes: everything stops when the context ends (SIGTERM) or
// when one part fails.
package serverd

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/health"
	"github.com/svidkit/svidkit/pkg/profiling"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/k8sbundle"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
	"github.com/svidkit/svidkit/pkg/server/nodeattest/k8spsat"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// joinTokenPruneInterval is how often expired join tokens are deleted.
const joinTokenPruneInterval = time.Minute

// Options are the process-level inputs that are not in the config file.
type Options struct {
	// Log receives the daemon's logs. Required.
	Log *slog.Logger
	// Started, when non-nil, is called with the running server once both
	// API listeners accept connections (used by tests and the demo).
	Started func(*server.Server)
	// Clock, when non-nil, tells the CA and the APIs the time instead of
	// the system clock, so that tests can move through SVID lifetimes.
	Clock server.Clock
	// CARotationCheckInterval is how often the CA checks its rotation
	// schedule; 0 means ca.DefaultRotationCheckInterval (10s). Not in the
	// configuration file: tests with CA lifetimes of seconds lower it.
	CARotationCheckInterval time.Duration
	// Federation holds the foreign bundle manager's settings that the
	// configuration file does not carry; the zero value is production's.
	Federation FederationOptions
}

// Run starts the server described by cfg and blocks until ctx ends or a part
// fails. It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg *config.Server, opts Options) error {
	log := opts.Log
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	raw, err := openStore(ctx, cfg.DataStore, storeServe, log.With("subsystem", "datastore"))
	if err != nil {
		return fmt.Errorf("open datastore: %w", err)
	}
	defer raw.Close()
	// Every datastore call is counted (svidkit_datastore_calls_total): the
	// figure that shows idle agents costing the database nothing.
	store, err := datastore.WithMetrics(raw, reg)
	if err != nil {
		return fmt.Errorf("open datastore: %w", err)
	}

	keys, err := keyStore(cfg)
	if err != nil {
		return err
	}
	authority, err := ca.New(ctx, ca.Config{
		TrustDomain: cfg.TrustDomain,
		KeyType:     cfg.CAKeyType,
		CATTL:       cfg.CATTL,
		X509SVIDTTL: cfg.DefaultX509SVIDTTL,
		JWTSVIDTTL:  cfg.DefaultJWTSVIDTTL,
		Subject:     caSubject(cfg.CASubject),
		JWTIssuer:   cfg.EffectiveJWTIssuer(),
		Keys:        keys,
		Bundles:     store,
		Clock:       opts.Clock,
		Log:         log.With("subsystem", "ca"),

		RotationCheckInterval: opts.CARotationCheckInterval,
	})
	if err != nil {
		return fmt.Errorf("start CA: %w", err)
	}

	attestors, err := nodeAttestors(cfg, log)
	if err != nil {
		return err
	}
	fedManager, err := federationManager(cfg, opts.Federation, store, reg, log)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		TrustDomain:        cfg.TrustDomain,
		Store:              store,
		Authority:          authority,
		BindAddress:        net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.BindPort)),
		SocketPath:         cfg.SocketPath,
		SocketDirShared:    cfg.SocketDirShared,
		DefaultX509SVIDTTL: cfg.DefaultX509SVIDTTL,
		DefaultJWTSVIDTTL:  cfg.DefaultJWTSVIDTTL,
		AgentTTL:           cfg.AgentTTL,
		Clock:              opts.Clock,
		Log:                log.With("subsystem", "api"),
		Registerer:         reg,
		NodeAttestors:      attestors,
		// Like SPIRE, serve only the node attestors the configuration
		// declares: a k8s_psat-only server accepts no join tokens. A
		// configuration that declares none keeps join tokens, as before.
		DisableJoinToken:            len(cfg.NodeAttestors) > 0 && !slices.Contains(cfg.NodeAttestors, config.NodeAttestorJoinToken),
		DisableAttestationRateLimit: !cfg.RateLimitAttestation,
		Federation:                  fedManager,
	})
	if err != nil {
		return fmt.Errorf("start server: %w", err)
	}

	tasks := []taskrun.Task{
		{Name: "ca rotation", Run: authority.Run},
		{Name: "api", Run: srv.Run},
		{Name: "join token pruning", Run: func(ctx context.Context) error {
			return pruneJoinTokens(ctx, store, log)
		}},
		{Name: "federated bundles", Run: fedManager.Run},
	}
	if t, ok, err := bundleEndpointTask(cfg, srv, authority, reg, log); err != nil {
		return err
	} else if ok {
		tasks = append(tasks, t)
	}
	if cfg.Registrar != nil {
		t, err := registrarTask(ctx, cfg, store, fedManager, reg, log)
		if err != nil {
			return err
		}
		tasks = append(tasks, t)
	}
	if cfg.K8sBundle != nil {
		n, err := bundleNotifier(cfg.K8sBundle, authority, log)
		if err != nil {
			return err
		}
		tasks = append(tasks, taskrun.Task{Name: "k8sbundle notifier", Run: n.Run})
	}
	if opts.Started != nil {
		tasks = append(tasks, taskrun.Task{Name: "started", Run: func(ctx context.Context) error {
			select {
			case <-srv.Listening():
				opts.Started(srv)
			case <-ctx.Done():
			}
			return nil
		}})
	}
	oidcSrv, oidcTasks, err := oidcDiscovery(cfg, authority, reg, log)
	if err != nil {
		return err
	}
	if oidcSrv != nil {
		defer oidcSrv.Close()
		tasks = append(tasks, oidcTasks...)
	}
	if cfg.Health.ListenerEnabled {
		hs := health.New(health.Config{
			BindAddress: cfg.Health.Addr(),
			LivePath:    cfg.Health.LivePath,
			ReadyPath:   cfg.Health.ReadyPath,
			Live:        liveness(store, authority, cfg.TrustDomain, log.With("subsystem", "health")),
			Ready:       srv.Ready,
			Gatherer:    reg,
			Log:         log.With("subsystem", "health"),
		})
		tasks = append(tasks, taskrun.Task{Name: "health", Run: hs.Run})
	}
	if cfg.Telemetry.PrometheusEnabled {
		ms := health.New(health.Config{
			BindAddress: cfg.Telemetry.PrometheusAddr(),
			Ready:       srv.Ready,
			Gatherer:    reg,
			Log:         log.With("subsystem", "telemetry"),
		})
		tasks = append(tasks, taskrun.Task{Name: "prometheus", Run: ms.Run})
	}
	tasks = append(tasks, profiling.Tasks(cfg.Profiling.Runtime(cfg.DataDir, "server", log.With("subsystem", "profiling")))...)
	log.Info("server starting", "trust_domain", cfg.TrustDomain.Name(),
		"bind_address", cfg.BindAddress, "bind_port", cfg.BindPort, "socket_path", cfg.SocketPath)
	err = taskrun.Run(ctx, tasks...)
	log.Info("server stopped")
	return err
}

func keyStore(cfg *config.Server) (ca.KeyStore, error) {
	switch cfg.KeyManager.Name {
	case "memory":
		return ca.NewMemoryKeyStore(), nil
	case "disk":
		path := cfg.KeyManager.Path
		if path == "" {
			path = filepath.Join(cfg.DataDir, "keys.json")
		}
		return ca.NewDiskKeyStore(path), nil
	}
	return nil, fmt.Errorf("KeyManager %q: want \"disk\" or \"memory\"", cfg.KeyManager.Name)
}

func pruneJoinTokens(ctx context.Context, store interface {
	PruneJoinTokens(context.Context, time.Time) error
}, log *slog.Logger) error {
	t := time.NewTicker(joinTokenPruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			if err := store.PruneJoinTokens(ctx, now); err != nil && ctx.Err() == nil {
				log.Warn("prune expired join tokens", "error", err)
			}
		}
	}
}

// nodeAttestors builds the configured node attestors other than the
// server's built-in join_token.
func nodeAttestors(cfg *config.Server, log *slog.Logger) ([]nodeattest.Attestor, error) {
	if cfg.K8sPSAT == nil {
		return nil, nil
	}
	clusters := make(map[string]k8spsat.Cluster, len(cfg.K8sPSAT.Clusters))
	for name, c := range cfg.K8sPSAT.Clusters {
		clusters[name] = k8spsat.Cluster{
			ServiceAccountAllowList: c.ServiceAccountAllowList,
			Audience:                c.Audience,
			KubeConfigFile:          c.KubeConfigFile,
			AllowedNodeLabelKeys:    c.AllowedNodeLabelKeys,
			AllowedPodLabelKeys:     c.AllowedPodLabelKeys,
		}
	}
	a, err := k8spsat.New(k8spsat.Config{
		TrustDomain: cfg.TrustDomain,
		Clusters:    clusters,
		Log:         log.With("subsystem", "node_attestor", "attestor", k8spsat.Type),
	})
	if err != nil {
		return nil, fmt.Errorf("NodeAttestor \"k8s_psat\": %w", err)
	}
	return []nodeattest.Attestor{a}, nil
}

// bundleNotifier builds the k8sbundle notifier following the CA's bundle.
func bundleNotifier(c *config.K8sBundle, authority *ca.Manager, log *slog.Logger) (*k8sbundle.Notifier, error) {
	n, err := k8sbundle.New(k8sbundle.Config{
		Source:         authority,
		Namespace:      c.Namespace,
		ConfigMap:      c.ConfigMap,
		ConfigMapKey:   c.ConfigMapKey,
		KubeConfigFile: c.KubeConfigFile,
		Log:            log.With("subsystem", "notifier", "notifier", "k8sbundle"),
	})
	if err != nil {
		//lint:ignore ST1005 the error starts with the SPIRE config block it is about, as NodeAttestor "k8s_psat" above does.
		return nil, fmt.Errorf("Notifier \"k8sbundle\": %w", err)
	}
	return n, nil
}

func caSubject(s config.Subject) pkix.Name {
	return pkix.Name{Country: s.Country, Organization: s.Organization, CommonName: s.CommonName}
}
