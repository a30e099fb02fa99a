package datastore

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/metricreg"
)

// WithMetrics returns s counting its calls in svidkit_datastore_calls_total
// by method, registered with reg (nil: counted, not registered). Each Store
// call is one transaction of the backend (a few statements at most), so
// the counter's rate is the server's database load whatever the backend:
// PostgreSQL's pg_stat_database shows the same load from the database
// side, SQLite has no other view. The result announces changes
// (ChangeNotifier) exactly when s does.
func WithMetrics(s Store, reg prometheus.Registerer) (Store, error) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "svidkit", Subsystem: "datastore", Name: "calls_total",
		Help: "Datastore calls (one transaction each), by Store method.",
	}, []string{"method"})
	calls, err := metricreg.Register(reg, calls)
	if err != nil {
		return nil, err
	}
	c := &counted{s: s, calls: calls}
	if n, ok := s.(ChangeNotifier); ok {
		return &countedNotifier{counted: c, n: n}, nil
	}
	return c, nil
}

// countedNotifier is a counted store whose backend announces changes.
type countedNotifier struct {
	*counted
	n ChangeNotifier
}

func (c *countedNotifier) SubscribeChanges() (<-chan struct{}, func()) {
	return c.n.SubscribeChanges()
}

// counted forwards every Store method to s after counting it.
type counted struct {
	s     Store
	calls *prometheus.CounterVec
}

func (c *counted) inc(method string) { c.calls.WithLabelValues(method).Inc() }

func (c *counted) CreateEntry(ctx context.Context, e *Entry) (*Entry, error) {
	c.inc("CreateEntry")
	return c.s.CreateEntry(ctx, e)
}

func (c *counted) UpdateEntry(ctx context.Context, e *Entry) (*Entry, error) {
	c.inc("UpdateEntry")
	return c.s.UpdateEntry(ctx, e)
}

func (c *counted) DeleteEntry(ctx context.Context, id string) (*Entry, error) {
	c.inc("DeleteEntry")
	return c.s.DeleteEntry(ctx, id)
}

func (c *counted) GetEntry(ctx context.Context, id string) (*Entry, error) {
	c.inc("GetEntry")
	return c.s.GetEntry(ctx, id)
}

func (c *counted) ListEntries(ctx context.Context, f EntryFilter) ([]*Entry, error) {
	c.inc("ListEntries")
	return c.s.ListEntries(ctx, f)
}

func (c *counted) EntryChangesSince(ctx context.Context, since int64, maxEntries int) (EntryChanges, error) {
	c.inc("EntryChangesSince")
	return c.s.EntryChangesSince(ctx, since, maxEntries)
}

func (c *counted) CountEntries(ctx context.Context) (int, error) {
	c.inc("CountEntries")
	return c.s.CountEntries(ctx)
}

func (c *counted) AgentChangesSince(ctx context.Context, since int64) (AgentChanges, error) {
	c.inc("AgentChangesSince")
	return c.s.AgentChangesSince(ctx, since)
}

func (c *counted) EntriesRevision(ctx context.Context) (int64, error) {
	c.inc("EntriesRevision")
	return c.s.EntriesRevision(ctx)
}

func (c *counted) CreateAgent(ctx context.Context, a *Agent) (*Agent, error) {
	c.inc("CreateAgent")
	return c.s.CreateAgent(ctx, a)
}

func (c *counted) UpdateAgent(ctx context.Context, a *Agent) (*Agent, error) {
	c.inc("UpdateAgent")
	return c.s.UpdateAgent(ctx, a)
}

func (c *counted) ReattestAgent(ctx context.Context, a *Agent) (*Agent, error) {
	c.inc("ReattestAgent")
	return c.s.ReattestAgent(ctx, a)
}

func (c *counted) AttestAgent(ctx context.Context, a *Agent, joinToken string, now time.Time) (*Agent, error) {
	c.inc("AttestAgent")
	return c.s.AttestAgent(ctx, a, joinToken, now)
}

func (c *counted) GetAgent(ctx context.Context, spiffeID string) (*Agent, error) {
	c.inc("GetAgent")
	return c.s.GetAgent(ctx, spiffeID)
}

func (c *counted) ListAgents(ctx context.Context) ([]*Agent, error) {
	c.inc("ListAgents")
	return c.s.ListAgents(ctx)
}

func (c *counted) DeleteAgent(ctx context.Context, spiffeID string) error {
	c.inc("DeleteAgent")
	return c.s.DeleteAgent(ctx, spiffeID)
}

func (c *counted) CreateJoinToken(ctx context.Context, t *JoinToken) error {
	c.inc("CreateJoinToken")
	return c.s.CreateJoinToken(ctx, t)
}

func (c *counted) ConsumeJoinToken(ctx context.Context, token string, now time.Time) (*JoinToken, error) {
	c.inc("ConsumeJoinToken")
	return c.s.ConsumeJoinToken(ctx, token, now)
}

func (c *counted) PruneJoinTokens(ctx context.Context, before time.Time) error {
	c.inc("PruneJoinTokens")
	return c.s.PruneJoinTokens(ctx, before)
}

func (c *counted) SetBundle(ctx context.Context, b *Bundle) error {
	c.inc("SetBundle")
	return c.s.SetBundle(ctx, b)
}

func (c *counted) UpdateBundle(ctx context.Context, trustDomain string, fn func(cur *Bundle) (*Bundle, error)) (*Bundle, error) {
	c.inc("UpdateBundle")
	return c.s.UpdateBundle(ctx, trustDomain, fn)
}

func (c *counted) CreateBundle(ctx context.Context, b *Bundle) error {
	c.inc("CreateBundle")
	return c.s.CreateBundle(ctx, b)
}

func (c *counted) GetBundle(ctx context.Context, trustDomain string) (*Bundle, error) {
	c.inc("GetBundle")
	return c.s.GetBundle(ctx, trustDomain)
}

func (c *counted) ListBundles(ctx context.Context) ([]*Bundle, error) {
	c.inc("ListBundles")
	return c.s.ListBundles(ctx)
}

func (c *counted) DeleteBundle(ctx context.Context, trustDomain string, mode BundleDeleteMode) error {
	c.inc("DeleteBundle")
	return c.s.DeleteBundle(ctx, trustDomain, mode)
}

func (c *counted) BundlesRevision(ctx context.Context) (int64, error) {
	c.inc("BundlesRevision")
	return c.s.BundlesRevision(ctx)
}

func (c *counted) CreateFederationRelationship(ctx context.Context, r *FederationRelationship) (*FederationRelationship, error) {
	c.inc("CreateFederationRelationship")
	return c.s.CreateFederationRelationship(ctx, r)
}

func (c *counted) GetFederationRelationship(ctx context.Context, trustDomain string) (*FederationRelationship, error) {
	c.inc("GetFederationRelationship")
	return c.s.GetFederationRelationship(ctx, trustDomain)
}

func (c *counted) ListFederationRelationships(ctx context.Context) ([]*FederationRelationship, error) {
	c.inc("ListFederationRelationships")
	return c.s.ListFederationRelationships(ctx)
}

func (c *counted) UpdateFederationRelationship(ctx context.Context, r *FederationRelationship) (*FederationRelationship, error) {
	c.inc("UpdateFederationRelationship")
	return c.s.UpdateFederationRelationship(ctx, r)
}

func (c *counted) DeleteFederationRelationship(ctx context.Context, trustDomain string) error {
	c.inc("DeleteFederationRelationship")
	return c.s.DeleteFederationRelationship(ctx, trustDomain)
}

// Close is not counted: it releases the database, it does not query it.
func (c *counted) Close() error { return c.s.Close() }
