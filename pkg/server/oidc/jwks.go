package oidc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

// keySet is one rendered JWKS document, immutable once built.
type keySet struct {
	body    []byte
	etag    string
	modTime time.Time
	// served and dropped count the keys in the document and those left
	// out by the cap.
	served, dropped int
}

// buildKeySet renders keys (newest first) as a JWKS of at most max keys,
// each with its JWS algorithm ("alg", as SPIRE's provider sets it) and,
// with setUse, "use": "sig". Keys whose algorithm is unknown are served
// without "alg"; their IDs are returned so the caller can log them.
func buildKeySet(keys []ca.JWTAuthority, max int, setUse bool, now time.Time) (*keySet, []string, error) {
	dropped := 0
	if len(keys) > max {
		dropped = len(keys) - max
		keys = keys[:max]
	}
	var noAlg []string
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		jwk := jose.JSONWebKey{Key: k.PublicKey, KeyID: k.KeyID}
		if alg, err := ca.JWTAlgorithm(k.PublicKey); err == nil {
			jwk.Algorithm = string(alg)
		} else {
			noAlg = append(noAlg, k.KeyID)
		}
		if setUse {
			jwk.Use = "sig"
		}
		set.Keys = append(set.Keys, jwk)
	}
	body, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, noAlg, fmt.Errorf("oidc: marshal JWKS: %w", err)
	}
	return &keySet{body: body, etag: etagOf(body), modTime: now, served: len(keys), dropped: dropped}, noAlg, nil
}

// etagOf returns a strong entity tag for body: equal documents get equal
// tags across restarts and servers behind one load balancer.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}
