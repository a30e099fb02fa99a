package ca

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"
)

// Rotate runs one rotation step at Clock.Now(), for the X.509 CA and the JWT
// key independently:
//   - with no usable active key, the prepared one is activated, or a new one
//     is created;
//   - once the active key has lived half its lifetime, a successor is
//     prepared, stored and published;
//   - once it has lived 5/6 of its lifetime, the successor becomes active;
//     the old key stays in the bundle until it expires;
//   - authorities expired for 24 hours are pruned from the bundle;
//   - the stored bundle's other authorities (other servers') are kept, and
//     the in-memory bundle takes them up.
//
// The bundle is published and changed keys are stored before any new key
// is used for signing. Run calls Rotate periodically; it is exported so tests and
// admin commands can drive rotation.
func (m *Manager) Rotate(ctx context.Context) error {
	if err := m.rotate(ctx); err != nil {
		return fmt.Errorf("ca: rotate: %w", err)
	}
	return nil
}

func (m *Manager) rotate(ctx context.Context) error {
	m.rotateMu.Lock()
	defer m.rotateMu.Unlock()

	now := m.clock.Now()
	ks := m.keys.clone()
	x509Changed, err := m.advanceX509(ks, now)
	if err != nil {
		return err
	}
	jwtChanged, err := m.advanceJWT(ks, now)
	if err != nil {
		return err
	}
	signer, err := newJWTSigner(ks.JWTCurrent)
	if err != nil {
		return err
	}
	x509s := m.x509.Load()
	if x509s == nil || x509s.authority != ks.X509Current {
		if x509s, err = newX509Signer(ks.X509Current, m.cfg.SVIDSubject); err != nil {
			return err
		}
	}
	pub, err := m.publishBundle(ctx, ks, now)
	if err != nil {
		return err
	}
	if x509Changed || jwtChanged || pub.retiredChanged {
		if err := m.cfg.Keys.Store(ctx, pub.keys); err != nil {
			return fmt.Errorf("store keys: %w", err)
		}
	}
	ks, bundle := pub.keys, pub.bundle
	m.foreignJWT = pub.foreignJWT

	// Only now, with the keys stored and the bundle published, may the
	// signers see the new state.
	m.keys = ks
	m.mu.Lock()
	prev := m.bundle
	m.x509.Store(x509s)
	m.jwt = signer
	m.bundle = bundle
	m.jwtKeys = newestJWTFirst(ks, pub.foreignJWT)
	m.mu.Unlock()
	if !prev.Equal(bundle) {
		m.notifyBundle()
	}
	return nil
}

// advanceX509 applies the rotation schedule to the X.509 slots of ks and
// reports whether it changed them.
func (m *Manager) advanceX509(ks *KeySet, now time.Time) (bool, error) {
	changed := false
	if cur := ks.X509Current; cur == nil || !now.Before(cur.Cert.NotAfter) {
		if next := ks.X509Next; next != nil && now.Before(next.Cert.NotAfter) {
			m.log.Info("activating prepared X.509 CA; the active one is missing or expired", x509Attrs(next.Cert)...)
			ks.X509Current, ks.X509Next = next, nil
		} else {
			ca, err := m.newX509Authority(now)
			if err != nil {
				return false, err
			}
			m.log.Info("created X.509 CA", x509Attrs(ca.Cert)...)
			ks.X509Current, ks.X509Next = ca, nil
		}
		changed = true
	}
	cur := ks.X509Current.Cert
	if ks.X509Next == nil && reached(cur.NotBefore, cur.NotAfter, now, 1, 2) {
		ca, err := m.newX509Authority(now)
		if err != nil {
			return false, err
		}
		m.log.Info("prepared next X.509 CA", x509Attrs(ca.Cert)...)
		ks.X509Next = ca
		changed = true
	}
	if ks.X509Next != nil && reached(cur.NotBefore, cur.NotAfter, now, 5, 6) {
		m.log.Info("activated next X.509 CA", x509Attrs(ks.X509Next.Cert)...)
		ks.X509Current, ks.X509Next = ks.X509Next, nil
		changed = true
	}
	return changed, nil
}

// advanceJWT applies the rotation schedule to the JWT slots of ks and
// reports whether it changed them. A replaced key that has not expired moves
// to ks.RetiredJWT so it stays published.
func (m *Manager) advanceJWT(ks *KeySet, now time.Time) (bool, error) {
	changed := false
	if cur := ks.JWTCurrent; cur == nil || !now.Before(cur.NotAfter) {
		// Expired keys go through RetiredJWT too, so mergeBundle knows
		// them and prunes them instead of adopting them as foreign keys.
		retireJWT(ks, cur)
		if next := ks.JWTNext; next != nil && now.Before(next.NotAfter) {
			m.log.Info("activating prepared JWT key; the active one is missing or expired", jwtAttrs(next)...)
			ks.JWTCurrent, ks.JWTNext = next, nil
		} else {
			retireJWT(ks, ks.JWTNext)
			k, err := m.newJWTKey(now)
			if err != nil {
				return false, err
			}
			m.log.Info("created JWT key", jwtAttrs(k)...)
			ks.JWTCurrent, ks.JWTNext = k, nil
		}
		changed = true
	}
	cur := ks.JWTCurrent
	if ks.JWTNext == nil && reached(cur.NotBefore, cur.NotAfter, now, 1, 2) {
		k, err := m.newJWTKey(now)
		if err != nil {
			return false, err
		}
		m.log.Info("prepared next JWT key", jwtAttrs(k)...)
		ks.JWTNext = k
		changed = true
	}
	if ks.JWTNext != nil && reached(cur.NotBefore, cur.NotAfter, now, 5, 6) {
		m.log.Info("activated next JWT key", jwtAttrs(ks.JWTNext)...)
		retireJWT(ks, cur)
		ks.JWTCurrent, ks.JWTNext = ks.JWTNext, nil
		changed = true
	}
	return changed, nil
}

// retireJWT moves k (if any) to the retired keys, which stay published
// until k.NotAfter.
func retireJWT(ks *KeySet, k *JWTKey) {
	if k == nil {
		return
	}
	ks.RetiredJWT = append(ks.RetiredJWT, JWTAuthority{KeyID: k.KeyID, PublicKey: k.Signer.Public(), NotAfter: k.NotAfter})
}

// reached reports whether now is at or past num/den of the way from
// notBefore to notAfter.
func reached(notBefore, notAfter, now time.Time, num, den int64) bool {
	life := notAfter.Sub(notBefore)
	return !now.Before(notBefore.Add(time.Duration(int64(life) / den * num)))
}

func x509Attrs(c *x509.Certificate) []any {
	return []any{"serial", c.SerialNumber.String(), "not_after", c.NotAfter}
}

func jwtAttrs(k *JWTKey) []any {
	return []any{"kid", k.KeyID, "not_after", k.NotAfter}
}
