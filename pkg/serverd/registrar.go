package serverd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/federation"
	"github.com/svidkit/svidkit/pkg/server/kubeclient"
	"github.com/svidkit/svidkit/pkg/server/registrar"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// registrarTask builds the Kubernetes registrar of the registrar block.
func registrarTask(ctx context.Context, cfg *config.Server, store datastore.Store, fed *federation.Manager, reg prometheus.Registerer, log *slog.Logger) (taskrun.Task, error) {
	rc := cfg.Registrar
	log = log.With("subsystem", "registrar")
	rest, err := kubeclient.RESTConfig(rc.KubeConfigFile)
	if err != nil {
		return taskrun.Task{}, fmt.Errorf("registrar: %w", err)
	}
	ignore := rc.IgnoreNamespaces
	if ignore == nil {
		ignore = slices.Clone(config.DefaultRegistrarIgnoreNamespaces)
		if ns := registrar.PodNamespace(); ns != "" {
			ignore = append(ignore, ns)
		}
	}
	domain := rc.ClusterDomain
	if domain == "" {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		d, ok := registrar.DetectClusterDomain(dctx, net.DefaultResolver)
		cancel()
		if ok {
			domain = d
		} else {
			domain = registrar.DefaultClusterDomain
			log.Warn("registrar: cluster domain not detected; using the default (set cluster_domain)", "cluster_domain", domain)
		}
	}
	rcfg := registrar.Config{
		TrustDomain:      cfg.TrustDomain,
		ClusterName:      rc.ClusterName,
		ClusterDomain:    domain,
		IgnoreNamespaces: ignore,
		ParentIDTemplate: rc.ParentIDTemplate,
		ClassName:        rc.ClassName,
		WatchClassless:   rc.WatchClassless,
		Reconcile: registrar.Reconcile{
			ClusterSPIFFEIDs:             rc.Reconcile.ClusterSPIFFEIDs,
			ClusterStaticEntries:         rc.Reconcile.ClusterStaticEntries,
			ClusterFederatedTrustDomains: rc.Reconcile.ClusterFederatedTrustDomains,
		},
		REST:          rest,
		Store:         store,
		ValidateEntry: func(e *datastore.Entry) error { return server.ValidateEntry(e, cfg.TrustDomain) },
		Log:           log,
		Registerer:    reg,
	}
	if fed != nil {
		rcfg.RelationshipsChanged = fed.RelationshipsChanged
	}
	r, err := registrar.New(rcfg)
	if err != nil {
		return taskrun.Task{}, err
	}
	return taskrun.Task{Name: "registrar", Run: r.Run}, nil
}
