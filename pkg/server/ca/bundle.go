package ca

import (
	"context"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// pruneAfterExpiry is how long an expired authority stays in the bundle,
// as in SPIRE: verifiers whose clocks lag still find the CA of a
// certificate that has just expired, and then it goes, so that the bundle
// and the JWKS do not grow with every rotation and restart. CAs that live
// less than that (ca_ttl of seconds, in tests and demos) keep an expired
// authority for one CA lifetime instead (pruneAfter).
const pruneAfterExpiry = 24 * time.Hour

// pruneAfter reports whether an authority that expires at notAfter is to
// be dropped from the bundle at now.
func (m *Manager) pruneAfter(notAfter, now time.Time) bool {
	return !now.Before(notAfter.Add(min(pruneAfterExpiry, m.cfg.CATTL)))
}

// parseStoredBundle parses the stored record of the trust domain's bundle;
// nil for none.
func (m *Manager) parseStoredBundle(rec *datastore.Bundle) (*spiffebundle.Bundle, error) {
	if rec == nil {
		return nil, nil
	}
	b, err := spiffebundle.Parse(m.td, rec.Data)
	if err != nil {
		return nil, fmt.Errorf("parse stored bundle of %q: %w", m.td.Name(), err)
	}
	return b, nil
}

// publication is what publishBundle leaves for the rotation step to adopt.
type publication struct {
	// bundle is the bundle now stored.
	bundle *spiffebundle.Bundle
	// keys is the key set to keep: a clone of the one published, whose
	// RetiredJWT mergeBundle may have pruned (retiredChanged).
	keys           *KeySet
	retiredChanged bool
	// foreignJWT are the other servers' JWT keys (see mergeBundle).
	foreignJWT map[string]JWTAuthority
}

// publishBundle merges ks's authorities into the stored bundle in one
// BundleStore.UpdateBundle transaction, so that servers sharing the store
// each append their own authorities and never drop another's, even when
// they publish at the same moment.
func (m *Manager) publishBundle(ctx context.Context, ks *KeySet, now time.Time) (publication, error) {
	var (
		p         publication
		published bool
	)
	// fn may run more than once: it sets every result on each run.
	_, err := m.cfg.Bundles.UpdateBundle(ctx, m.td.Name(), func(cur *datastore.Bundle) (*datastore.Bundle, error) {
		stored, err := m.parseStoredBundle(cur)
		if err != nil {
			return nil, err
		}
		p.keys = ks.clone()
		p.bundle, p.foreignJWT, p.retiredChanged = m.mergeBundle(p.keys, m.foreignJWT, stored, now)
		if !m.setSequence(p.bundle, stored) {
			published = false
			return cur, nil
		}
		data, err := p.bundle.Marshal()
		if err != nil {
			return nil, fmt.Errorf("marshal bundle: %w", err)
		}
		published = true
		return &datastore.Bundle{TrustDomain: m.td.Name(), Data: data}, nil
	})
	if err != nil {
		return publication{}, fmt.Errorf("store bundle of %q: %w", m.td.Name(), err)
	}
	if published {
		seq, _ := p.bundle.SequenceNumber()
		m.log.Info("published bundle", "trust_domain", m.td.Name(), "sequence_number", seq,
			"x509_authorities", len(p.bundle.X509Authorities()), "jwt_authorities", len(p.bundle.JWTAuthorities()))
	}
	return p, nil
}

// mergeBundle builds the bundle to publish: the X.509 authorities of the
// bundle published so far, of the stored bundle (other servers' among
// them), and of ks; this CA's own JWT keys (ks); and the other JWT keys of
// the stored bundle (other servers', or a predecessor's). Authorities
// expired for longer than pruneAfterExpiry are dropped, the CA's own from
// ks too. It reports whether ks.RetiredJWT changed. The sequence number is
// set by setSequence.
//
// Another server's JWT key is never taken into ks nor published from it:
// only kept while it is in the stored bundle, so that when its owner
// prunes it, it goes. Its expiry is unknown (the bundle document does not
// carry it), so it is taken to be one CATTL after this CA first saw the
// key (foreign, returned updated), by which time any key issued before
// has expired with the same CA TTL; a key still stored 24 h later (its
// owner gone: a decommissioned server, or keys lost with a restart) is
// dropped from the stored bundle by whichever server first reaches that
// point. A key that reappears afterwards is published again by a live
// owner and is kept again.
func (m *Manager) mergeBundle(ks *KeySet, foreign map[string]JWTAuthority, stored *spiffebundle.Bundle, now time.Time) (*spiffebundle.Bundle, map[string]JWTAuthority, bool) {
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
		if !m.pruneAfter(c.NotAfter, now) {
			b.AddX509Authority(c) // de-duplicates
		}
	}

	// own holds the CA's own JWT keys, pruned ones included: those must
	// not be kept as another server's.
	own := make(map[string]bool)
	for _, k := range []*JWTKey{ks.JWTCurrent, ks.JWTNext} {
		if k != nil {
			own[k.KeyID] = true
		}
	}
	changed := false
	kept := ks.RetiredJWT[:0:0]
	for _, r := range ks.RetiredJWT {
		own[r.KeyID] = true
		if !m.pruneAfter(r.NotAfter, now) {
			kept = append(kept, r)
		} else {
			changed = true
		}
	}
	ks.RetiredJWT = kept
	nextForeign := make(map[string]JWTAuthority)
	if stored != nil {
		for kid, pub := range stored.JWTAuthorities() {
			if own[kid] {
				continue
			}
			f, seen := foreign[kid]
			if !seen {
				m.log.Info("keeping JWT authority found in the stored bundle", "kid", kid)
				f = JWTAuthority{KeyID: kid, PublicKey: pub, NotAfter: now.Add(m.cfg.CATTL)}
			}
			if !m.pruneAfter(f.NotAfter, now) {
				nextForeign[kid] = f
			}
		}
	}
	// AddJWTAuthority fails only on an empty key ID, which decodeKeySet,
	// newKeyID and the bundle parser rule out.
	for _, f := range nextForeign {
		_ = b.AddJWTAuthority(f.KeyID, f.PublicKey)
	}
	for _, r := range ks.RetiredJWT {
		_ = b.AddJWTAuthority(r.KeyID, r.PublicKey)
	}
	for _, k := range []*JWTKey{ks.JWTCurrent, ks.JWTNext} {
		if k != nil {
			_ = b.AddJWTAuthority(k.KeyID, k.Signer.Public())
		}
	}
	return b, nextForeign, changed
}

// setSequence sets b's sequence number and reports whether b differs from
// the stored bundle. The sequence number only grows: it is one more than
// the highest seen when the content changes.
func (m *Manager) setSequence(b, stored *spiffebundle.Bundle) bool {
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
		return false
	}
	b.SetSequenceNumber(seq + 1)
	return true
}
