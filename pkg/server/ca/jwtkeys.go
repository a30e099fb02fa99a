package ca

import (
	"cmp"
	"slices"
)

// JWTAuthorities returns the JWT keys of the published bundle, newest
// first: the prepared next key, the active one, then the retired ones by
// expiry, latest first. Consumers that must publish fewer keys than the
// bundle holds (the OIDC discovery JWKS, capped at AWS's 100 keys) keep a
// prefix, so the keys that sign today's and tomorrow's tokens are never the
// ones left out.
func (m *Manager) JWTAuthorities() []JWTAuthority {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.jwtKeys)
}

// newestJWTFirst lists the JWT keys mergeBundle publishes for ks and the
// other servers' keys (foreign) in JWTAuthorities' order. Retired and
// foreign keys with the same expiry (foreign keys first seen together all
// get one) are ordered by key ID, so the order, and what a capped consumer
// serves, is stable across calls.
func newestJWTFirst(ks *KeySet, foreign map[string]JWTAuthority) []JWTAuthority {
	out := make([]JWTAuthority, 0, len(ks.RetiredJWT)+2)
	for _, k := range []*JWTKey{ks.JWTNext, ks.JWTCurrent} {
		if k != nil {
			out = append(out, JWTAuthority{KeyID: k.KeyID, PublicKey: k.Signer.Public(), NotAfter: k.NotAfter})
		}
	}
	retired := slices.Clone(ks.RetiredJWT)
	for _, f := range foreign {
		retired = append(retired, f)
	}
	slices.SortStableFunc(retired, func(a, b JWTAuthority) int {
		if c := b.NotAfter.Compare(a.NotAfter); c != 0 {
			return c
		}
		return cmp.Compare(a.KeyID, b.KeyID)
	})
	seen := make(map[string]bool, len(out))
	for _, k := range out {
		seen[k.KeyID] = true
	}
	for _, r := range retired {
		// The bundle holds one key per key ID; so does this list.
		if !seen[r.KeyID] {
			seen[r.KeyID] = true
			out = append(out, r)
		}
	}
	return out
}
