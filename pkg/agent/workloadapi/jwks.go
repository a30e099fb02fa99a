package workloadapi

import (
	"crypto"
	"encoding/json"
	"maps"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// marshalJWKS renders JWT authorities as an RFC 7517 JWKS document, like
// SPIRE's agent. Keys are ordered by key ID so that an unchanged bundle
// marshals to identical bytes, which lets streams skip unchanged bundles.
func marshalJWKS(authorities map[string]crypto.PublicKey) ([]byte, error) {
	jwks := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(authorities))}
	for _, kid := range slices.Sorted(maps.Keys(authorities)) {
		jwks.Keys = append(jwks.Keys, jose.JSONWebKey{Key: authorities[kid], KeyID: kid})
	}
	return json.Marshal(jwks)
}
