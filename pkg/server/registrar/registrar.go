package registrar

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/tools/cache"

	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// Registrar keeps the registrar's entries and federation relationships in
// step with the cluster. Create it with New and run it with Run.
type Registrar struct {
	cfg      Config
	log      *slog.Logger
	clients  *clients
	inf      *informers
	renderer *render.Renderer
	metrics  *metrics
	ignored  map[string]bool

	compiledMu sync.Mutex
	compiled   map[string]compiledEntry // ClusterSPIFFEID name → compiled

	// seenMu guards seen: when each pod was first seen scheduled, for
	// the pod-to-entry latency.
	seenMu sync.Mutex
	seen   map[string]time.Time

	// current is the reconciling session while this server leads.
	current atomic.Pointer[session]
}

// compiledEntry caches one compiled ClusterSPIFFEID by UID and
// generation.
type compiledEntry struct {
	version string
	c       *render.ClusterSPIFFEID
}

// New builds a Registrar; nothing is watched until Run.
func New(cfg Config) (*Registrar, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rnd, err := render.NewRenderer(render.Config{
		TrustDomain: cfg.TrustDomain, ClusterName: cfg.ClusterName, ClusterDomain: cfg.ClusterDomain,
		ParentIDTemplate: cfg.ParentIDTemplate, Validate: cfg.ValidateEntry,
	})
	if err != nil {
		return nil, fmt.Errorf("registrar: %w", err)
	}
	cl, err := newClients(cfg.REST)
	if err != nil {
		return nil, err
	}
	inf, err := newInformers(cl, cfg.Reconcile)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("registrar: %w", err)
	}
	r := &Registrar{
		cfg: cfg, log: cfg.Log, clients: cl, inf: inf, renderer: rnd, metrics: m,
		ignored:  make(map[string]bool, len(cfg.IgnoreNamespaces)),
		compiled: make(map[string]compiledEntry),
		seen:     make(map[string]time.Time),
	}
	for _, ns := range cfg.IgnoreNamespaces {
		r.ignored[ns] = true
	}
	if err := r.addHandlers(); err != nil {
		return nil, fmt.Errorf("registrar: %w", err)
	}
	return r, nil
}

// Run watches the cluster and, while this server holds the Lease,
// reconciles. It returns nil when ctx ends.
func (r *Registrar) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, in := range r.inf.all() {
		wg.Go(func() { in.Run(ctx.Done()) })
	}
	defer wg.Wait()
	var synced []cache.InformerSynced
	for _, in := range r.inf.all() {
		synced = append(synced, in.HasSynced)
	}
	r.log.Info("registrar waiting for the Kubernetes caches", "cluster", r.cfg.ClusterName)
	syncDone := make(chan struct{})
	wg.Go(func() { r.warnUnsynced(ctx, syncDone) })
	ok := cache.WaitForCacheSync(ctx.Done(), synced...)
	close(syncDone)
	if !ok {
		return nil
	}
	r.log.Info("registrar caches synced; campaigning for the lease",
		"lease", r.cfg.LeaseNamespace+"/"+r.cfg.LeaseName, "identity", r.cfg.Identity)
	return r.campaign(ctx)
}

// unsyncedWarning is how long the caches may take to fill before the
// registrar names the watches still waiting.
const unsyncedWarning = 30 * time.Second

// warnUnsynced logs the watches that have not filled after
// unsyncedWarning: usually a CRD not installed or a permission missing.
func (r *Registrar) warnUnsynced(ctx context.Context, done <-chan struct{}) {
	select {
	case <-done:
		return
	case <-ctx.Done():
		return
	case <-time.After(unsyncedWarning):
	}
	for name, in := range r.inf.named() {
		if !in.HasSynced() {
			r.log.Warn("registrar: watch not synced yet; is the resource's CRD installed and may the server list and watch it?", "resource", name)
		}
	}
}

// lead runs one reconciling session until ctx ends (leadership lost or
// shutdown).
func (r *Registrar) lead(ctx context.Context) {
	s := newSession(r)
	r.current.Store(s)
	defer r.current.Store(nil)
	r.metrics.leader.Set(1)
	defer r.metrics.leader.Set(0)
	r.log.Info("registrar leading: reconciling", "cluster", r.cfg.ClusterName)
	if err := s.run(ctx); err != nil && ctx.Err() == nil {
		r.log.Error("registrar session failed", "error", err)
	}
	r.log.Info("registrar stopped reconciling", "cluster", r.cfg.ClusterName)
}
