package ca

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// loadStoredBundle returns the trust domain's bundle from the BundleStore,
// or nil when none is stored.
func (m *Manager) loadStoredBundle(ctx context.Context) (*spiffebundle.Bundle, error) {
	rec, err := m.cfg.Bundles.GetBundle(ctx, m.td.Name())
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get stored bundle of %q: %w", m.td.Name(), err)
	}
	b, err := spiffebundle.Parse(m.td, rec.Data)
	if err != nil {
		return nil, fmt.Errorf("parse stored bundle of %q: %w", m.td.Name(), err)
	}
	return b, nil
}

// mergeBundle builds the bundle to publish: the unexpired X.509 authorities
// of the bundle published so far, of the stored bundle, and of ks; and the
// JWT keys of ks. JWT keys found only in the stored bundle are adopted into
// ks.RetiredJWT; their expiry is unknown (the bundle document does not carry
// it), so they are kept for one CATTL from now, by which time any key this CA
// issued has expired. Expired retired JWT keys are dropped from ks. It
// reports whether ks.RetiredJWT changed. The sequence number is set by
// storeBundle.
func (m *Manager) mergeBundle(ks *KeySet, stored *spiffebundle.Bundle, now time.Time) (*spiffebundle.Bundle, bool) {
	b := spiffebundle.New(m.td)
	b.SetRefreshHint(m.cfg.BundleRefreshHint)

	m.mu.RLock()
	published := m.bundle.X509Authorities()
	m.mu.RUnlock()
	if stored != nil {
		published = append(published, stored.X509Authorities()...)
	}
	for _, a := range []*X509Authority{ks.X509Current, ks.X509Next} {
		if a != nil {
			published = append(published, a.Cert)
		}
	}
	for _, c := range published {
		if now.Before(c.NotAfter) {
			b.AddX509Authority(c) // de-duplicates
		}
	}

	changed := false
	known := make(map[string]bool)
	for _, k := range []*JWTKey{ks.JWTCurrent, ks.JWTNext} {
		if k != nil {
			known[k.KeyID] = true
		}
	}
	for _, r := range ks.RetiredJWT {
		known[r.KeyID] = true
	}
	if stored != nil {
		for kid, pub := range stored.JWTAuthorities() {
			if !known[kid] {
				m.log.Info("keeping JWT authority found in the stored bundle", "kid", kid)
				ks.RetiredJWT = append(ks.RetiredJWT, JWTAuthority{KeyID: kid, PublicKey: pub, NotAfter: now.Add(m.cfg.CATTL)})
				changed = true
			}
		}
	}
	kept := ks.RetiredJWT[:0:0]
	for _, r := range ks.RetiredJWT {
		if now.Before(r.NotAfter) {
			kept = append(kept, r)
		} else {
			changed = true
		}
	}
	ks.RetiredJWT = kept
	for _, r := range ks.RetiredJWT {
		// AddJWTAuthority fails only on an empty key ID, which decodeKeySet
		// and newKeyID rule out.
		_ = b.AddJWTAuthority(r.KeyID, r.PublicKey)
	}
	for _, k := range []*JWTKey{ks.JWTCurrent, ks.JWTNext} {
		if k != nil {
			_ = b.AddJWTAuthority(k.KeyID, k.Signer.Public())
		}
	}
	return b, changed
}

// storeBundle sets b's sequence number and writes it to the BundleStore when
// it differs from the stored one. The sequence number only grows: it is one
// more than the highest seen when the content changes.
func (m *Manager) storeBundle(ctx context.Context, b, stored *spiffebundle.Bundle) error {
	var seq uint64
	if stored != nil {
		seq, _ = stored.SequenceNumber()
	}
	m.mu.RLock()
	if s, ok := m.bundle.SequenceNumber(); ok && s > seq {
		seq = s
	}
	m.mu.RUnlock()
	b.SetSequenceNumber(seq)
	if stored != nil && b.Equal(stored) {
		return nil
	}
	b.SetSequenceNumber(seq + 1)
	data, err := b.Marshal()
	if err != nil {
		return fmt.Errorf("marshal bundle: %w", err)
	}
	if err := m.cfg.Bundles.SetBundle(ctx, &datastore.Bundle{TrustDomain: m.td.Name(), Data: data}); err != nil {
		return fmt.Errorf("store bundle of %q: %w", m.td.Name(), err)
	}
	m.log.Info("published bundle", "trust_domain", m.td.Name(), "sequence_number", seq+1,
		"x509_authorities", len(b.X509Authorities()), "jwt_authorities", len(b.JWTAuthorities()))
	return nil
}
