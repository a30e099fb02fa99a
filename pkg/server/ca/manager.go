package ca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// Manager is the trust domain's certificate authority: it signs SVIDs with
// the active keys, rotates them and publishes the bundle. Its methods are
// safe for concurrent use; signing takes only a read lock long enough to
// pick up the active key, so it scales across cores.
type Manager struct {
	cfg     Config
	keyType keyType
	td      spiffeid.TrustDomain
	clock   Clock
	log     *slog.Logger

	// rotateMu serializes Rotate; keys and foreignJWT are only touched
	// under it.
	rotateMu sync.Mutex
	keys     *KeySet
	// foreignJWT are the stored bundle's JWT keys of other servers, with
	// the expiry this CA assumes for them (mergeBundle).
	foreignJWT map[string]JWTAuthority

	// x509 is the active X.509 CA; signers load it without locking.
	x509 atomic.Pointer[x509Signer]

	// mu guards the JWT signer, the bundle and its JWT keys in order.
	mu     sync.RWMutex
	jwt    *jwtSigner
	bundle *spiffebundle.Bundle
	// jwtKeys are the bundle's JWT keys, newest first (jwtkeys.go).
	jwtKeys []JWTAuthority

	subMu sync.Mutex
	subs  map[*chan struct{}]struct{}
}

// New loads the CA keys from cfg.Keys, or creates them on first start,
// publishes the bundle to cfg.Bundles (merged with the stored one, so retired
// authorities that are still valid stay) and runs one rotation step. It
// returns only once the active keys are published.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	cfg, kt, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("ca: config: %w", err)
	}
	m := &Manager{
		cfg:     cfg,
		keyType: kt,
		td:      cfg.TrustDomain,
		clock:   cfg.Clock,
		log:     cfg.Log,
		bundle:  spiffebundle.New(cfg.TrustDomain),
		subs:    make(map[*chan struct{}]struct{}),
	}
	if limit := cfg.CATTL / 6; cfg.X509SVIDTTL > limit || cfg.JWTSVIDTTL > limit {
		// After activation a CA has 1/6 of its lifetime left; longer SVIDs
		// are cut short at the CA's expiry.
		m.log.Warn("SVID TTL exceeds 1/6 of ca_ttl; SVIDs will be capped at the CA's expiry",
			"ca_ttl", cfg.CATTL, "x509_svid_ttl", cfg.X509SVIDTTL, "jwt_svid_ttl", cfg.JWTSVIDTTL)
	}
	ks, err := cfg.Keys.Load(ctx)
	switch {
	case errors.Is(err, ErrKeysNotFound):
		m.log.Info("no CA keys stored; creating new ones", "trust_domain", m.td.Name())
		ks = &KeySet{}
	case err != nil:
		return nil, fmt.Errorf("ca: load keys: %w", err)
	}
	if err := m.checkKeySet(ks); err != nil {
		return nil, fmt.Errorf("ca: load keys: %w", err)
	}
	m.keys = ks
	if err := m.rotate(ctx); err != nil {
		return nil, fmt.Errorf("ca: initialize: %w", err)
	}
	return m, nil
}

// checkKeySet refuses stored CAs of another trust domain: using them would
// mint SVIDs that nobody in this trust domain trusts.
func (m *Manager) checkKeySet(ks *KeySet) error {
	for _, a := range []struct {
		name string
		ca   *X509Authority
	}{{"x509_current", ks.X509Current}, {"x509_next", ks.X509Next}} {
		if a.ca == nil {
			continue
		}
		id, err := x509svid.IDFromCert(a.ca.Cert)
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		if id != m.td.ID() {
			return fmt.Errorf("%s: CA is for %q, not trust domain %q", a.name, id, m.td)
		}
	}
	return nil
}

// TrustDomain returns the trust domain the Manager signs for.
func (m *Manager) TrustDomain() spiffeid.TrustDomain {
	return m.td
}

// Bundle returns a copy of the published trust bundle: the active, prepared
// and retired-but-unexpired X.509 CAs and JWT keys, with refresh hint and
// sequence number.
func (m *Manager) Bundle() *spiffebundle.Bundle {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.bundle.Clone()
}

// SubscribeBundle returns a channel that receives a value whenever the
// published bundle changes, and a function that ends the subscription. The
// channel has room for one value, so bursts of changes collapse into one
// signal; subscribers call Bundle to get the latest state.
func (m *Manager) SubscribeBundle() (updates <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	m.subMu.Lock()
	m.subs[&ch] = struct{}{}
	m.subMu.Unlock()
	return ch, func() {
		m.subMu.Lock()
		delete(m.subs, &ch)
		m.subMu.Unlock()
	}
}

func (m *Manager) notifyBundle() {
	m.subMu.Lock()
	defer m.subMu.Unlock()
	for ch := range m.subs {
		select {
		case *ch <- struct{}{}:
		default:
		}
	}
}

// Run calls Rotate every RotationCheckInterval until ctx is done, then
// returns nil. A failed step is logged and retried at the next tick: the
// active keys stay valid while, say, the datastore is briefly unavailable.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.RotationCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := m.Rotate(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				m.log.Error("CA rotation step failed", "error", err)
			}
		}
	}
}
