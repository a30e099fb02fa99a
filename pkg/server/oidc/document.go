package oidc

import (
	"encoding/json"
	"fmt"
)

// discovery is the OpenID Provider metadata document, with the fields and
// fixed values SPIRE's oidc-discovery-provider writes, in its order.
type discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
	// AuthorizationEndpoint is required by the specification but there is
	// no authorization flow here; SPIRE writes it empty.
	AuthorizationEndpoint            string   `json:"authorization_endpoint"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
}

// buildDiscovery renders the discovery document. It never changes while
// the server runs: the issuer and JWKS URL are configured, not taken from
// the request.
func buildDiscovery(issuer, jwksURI string) ([]byte, error) {
	body, err := json.MarshalIndent(discovery{
		Issuer:                           issuer,
		JWKSURI:                          jwksURI,
		ResponseTypesSupported:           []string{"id_token"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{"RS256", "ES256", "ES384"},
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("oidc: marshal discovery document: %w", err)
	}
	return body, nil
}
