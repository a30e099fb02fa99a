package federation

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Defaults of a Manager.
const (
	// DefaultMinRefreshInterval is the shortest time between two fetches
	// of one bundle, and the retry interval after a failure (SPIRE's
	// one-minute floor).
	DefaultMinRefreshInterval = time.Minute
	// MaxRefreshInterval caps the time between fetches whatever the
	// foreign refresh hint: an hour-long hint/4 is already generous.
	MaxRefreshInterval = time.Hour
	// DefaultResyncInterval is how often stored relationships are
	// re-read, for changes made by another server sharing the database.
	DefaultResyncInterval = 30 * time.Second
	DefaultFetchTimeout   = 30 * time.Second
	// DefaultMaxBundleSize caps a fetched document.
	DefaultMaxBundleSize = 4 << 20
)

// BundleStore reads and writes bundles; datastore.Store implements it.
// GetBundle wraps datastore.ErrNotFound for an absent bundle.
type BundleStore interface {
	GetBundle(ctx context.Context, trustDomain string) (*datastore.Bundle, error)
	SetBundle(ctx context.Context, b *datastore.Bundle) error
}

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// TrustDomain is the server's own trust domain; relationships with it
	// are refused. Required.
	TrustDomain spiffeid.TrustDomain
	// Static are the configuration's relationships (federates_with).
	Static []*datastore.FederationRelationship
	// Relationships lists the dynamic relationships; nil for none.
	Relationships RelationshipStore
	// Bundles stores the fetched bundles. Required.
	Bundles BundleStore
	// WebPKIRoots verifies https_web endpoints; nil means the system's
	// roots. Tests pass their own CA.
	WebPKIRoots *x509.CertPool
	// MinRefreshInterval is the floor between fetches and the retry
	// interval after a failure; default DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// ResyncInterval is how often stored relationships are re-read;
	// default DefaultResyncInterval.
	ResyncInterval time.Duration
	// FetchTimeout bounds one fetch; default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// MaxBundleSize caps a fetched document; default DefaultMaxBundleSize.
	MaxBundleSize int64
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Registerer receives the metrics; nil disables them.
	Registerer prometheus.Registerer
}

// Manager keeps the bundles of the federated trust domains fresh. Its
// RefreshBundle and RelationshipsChanged methods serve the trust domain
// API.
type Manager struct {
	cfg     ManagerConfig
	static  []relationship
	fetcher *fetcher
	metrics *fetchMetrics
	changed chan struct{}

	mu     sync.Mutex
	states map[spiffeid.TrustDomain]*tdState
}

// tdState serialises the fetches of one trust domain and remembers the
// ETag of the document last stored.
type tdState struct {
	mu      sync.Mutex
	etag    string
	dataSum [32]byte // of the stored data the ETag belongs to
}

// NewManager validates cfg and fills in defaults.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	var errs []error
	if cfg.TrustDomain.IsZero() {
		errs = append(errs, errors.New("trust domain is required"))
	}
	if cfg.Bundles == nil {
		errs = append(errs, errors.New("bundle store is required"))
	}
	m := &Manager{changed: make(chan struct{}, 1), states: make(map[spiffeid.TrustDomain]*tdState)}
	seen := make(map[spiffeid.TrustDomain]bool)
	for _, s := range cfg.Static {
		r, err := newRelationship(s, true)
		switch {
		case err != nil:
			errs = append(errs, err)
		case r.td == cfg.TrustDomain:
			errs = append(errs, fmt.Errorf("%q: cannot federate with the server's own trust domain", r.td.Name()))
		case seen[r.td]:
			errs = append(errs, fmt.Errorf("%q: configured twice", r.td.Name()))
		default:
			seen[r.td] = true
			m.static = append(m.static, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("federation: manager: %w", err)
	}
	setDefault(&cfg.MinRefreshInterval, DefaultMinRefreshInterval)
	setDefault(&cfg.ResyncInterval, DefaultResyncInterval)
	setDefault(&cfg.FetchTimeout, DefaultFetchTimeout)
	if cfg.MaxBundleSize <= 0 {
		cfg.MaxBundleSize = DefaultMaxBundleSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	var err error
	if m.metrics, err = newFetchMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	m.cfg = cfg
	m.fetcher = &fetcher{webRoots: cfg.WebPKIRoots, timeout: cfg.FetchTimeout, maxBody: cfg.MaxBundleSize}
	return m, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// RelationshipsChanged asks Run to re-read the relationships now. It
// never blocks; calls made while a re-read is pending collapse into it.
func (m *Manager) RelationshipsChanged() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// RefreshBundle fetches the bundle of td now and stores it if it
// changed. It returns an error wrapping ErrNoRelationship when the server
// does not federate with td, and a *FetchError when the fetch is refused
// (the stored bundle is then kept).
func (m *Manager) RefreshBundle(ctx context.Context, td spiffeid.TrustDomain) error {
	rels, err := m.relationships(ctx)
	if err != nil {
		return err
	}
	rel, ok := rels[td]
	if !ok {
		return fmt.Errorf("federation: %q: %w", td.Name(), ErrNoRelationship)
	}
	_, err = m.refresh(ctx, rel)
	return err
}

// state returns td's fetch state, creating it.
func (m *Manager) state(td spiffeid.TrustDomain) *tdState {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.states[td]
	if !ok {
		st = &tdState{}
		m.states[td] = st
	}
	return st
}

// forget drops the state of trust domains no longer federated with.
func (m *Manager) forget(keep map[spiffeid.TrustDomain]relationship) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for td := range m.states {
		if _, ok := keep[td]; !ok {
			delete(m.states, td)
		}
	}
}

// refresh fetches rel's bundle once and stores it when it changed. It
// returns when to fetch next: a quarter of the refresh hint (floored and
// capped) after success, the floor after a failure.
func (m *Manager) refresh(ctx context.Context, rel relationship) (time.Duration, error) {
	st := m.state(rel.td)
	st.mu.Lock()
	defer st.mu.Unlock()
	stored, storedData, err := m.load(ctx, rel.td)
	if err != nil {
		return m.failed(ctx, rel, stored != nil, &FetchError{TrustDomain: rel.td, Reason: ReasonStore, Err: err})
	}
	auth := stored
	if rel.profile == profileHTTPSSPIFFE && rel.endpointID.TrustDomain() != rel.td {
		if auth, _, err = m.load(ctx, rel.endpointID.TrustDomain()); err != nil {
			return m.failed(ctx, rel, stored != nil, &FetchError{TrustDomain: rel.td, Reason: ReasonStore, Err: err})
		}
	}
	etag := ""
	if stored != nil && st.etag != "" && st.dataSum == sha256.Sum256(storedData) {
		etag = st.etag
	}
	res, err := m.fetcher.get(ctx, rel, auth, etag)
	if err != nil {
		return m.failed(ctx, rel, stored != nil, err)
	}
	if res.notModified {
		return m.next(stored), nil
	}
	fetched, err := parseBundle(rel.td, res.body, stored)
	if err != nil {
		return m.failed(ctx, rel, stored != nil, err)
	}
	if stored != nil && fetched.Equal(stored) {
		st.etag, st.dataSum = res.etag, sha256.Sum256(storedData)
		return m.next(fetched), nil
	}
	data, err := fetched.Marshal()
	if err == nil {
		err = m.cfg.Bundles.SetBundle(ctx, &datastore.Bundle{TrustDomain: rel.td.Name(), Data: data})
	}
	if err != nil {
		return m.failed(ctx, rel, stored != nil, &FetchError{TrustDomain: rel.td, Reason: ReasonStore, Err: err})
	}
	st.etag, st.dataSum = res.etag, sha256.Sum256(data)
	m.metrics.updates.WithLabelValues(rel.td.Name()).Inc()
	seq, _ := fetched.SequenceNumber()
	m.cfg.Log.Info("federated bundle updated", "trust_domain", rel.td.Name(), "sequence_number", seq,
		"x509_authorities", len(fetched.X509Authorities()), "jwt_authorities", len(fetched.JWTAuthorities()))
	return m.next(fetched), nil
}

// load returns td's stored bundle and its data, or nils when none is
// stored. A stored document that does not parse counts as none.
func (m *Manager) load(ctx context.Context, td spiffeid.TrustDomain) (*spiffebundle.Bundle, []byte, error) {
	rec, err := m.cfg.Bundles.GetBundle(ctx, td.Name())
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	b, err := spiffebundle.Parse(td, rec.Data)
	if err != nil {
		m.cfg.Log.Warn("stored federated bundle does not parse; treating it as absent", "trust_domain", td.Name(), "error", err)
		return nil, nil, nil
	}
	return b, rec.Data, nil
}

// failed logs and counts a refused fetch and returns the retry interval.
func (m *Manager) failed(ctx context.Context, rel relationship, kept bool, err error) (time.Duration, error) {
	if ctx.Err() != nil {
		return 0, err // stopping or the caller gave up: not the endpoint's fault
	}
	reason := ReasonUnreachable
	var fe *FetchError
	if errors.As(err, &fe) {
		reason = fe.Reason
	}
	m.metrics.failures.WithLabelValues(rel.td.Name(), reason).Inc()
	msg := "federated bundle refresh failed; keeping the last good bundle"
	if !kept {
		msg = "federated bundle refresh failed; no bundle stored yet"
	}
	m.cfg.Log.Warn(msg, "trust_domain", rel.td.Name(), "url", rel.url, "reason", reason, "error", err)
	return m.cfg.MinRefreshInterval, err
}

// next returns the time until the next fetch of a bundle with b's
// refresh hint (nil or none: DefaultRefreshHint).
func (m *Manager) next(b *spiffebundle.Bundle) time.Duration {
	hint := DefaultRefreshHint
	if b != nil {
		if h, ok := b.RefreshHint(); ok && h > 0 {
			hint = h
		}
	}
	return min(max(hint/4, m.cfg.MinRefreshInterval), MaxRefreshInterval)
}
