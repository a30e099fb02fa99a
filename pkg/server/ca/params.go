package ca

import (
	"crypto"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// X509SVIDParams describes one X.509-SVID to sign.
type X509SVIDParams struct {
	// SPIFFEID becomes the certificate's only URI SAN.
	SPIFFEID spiffeid.ID
	// PublicKey is the subject key, taken from the caller's CSR.
	PublicKey crypto.PublicKey
	// TTL is the requested lifetime; 0 means the configured default. The
	// lifetime is capped so the SVID never outlives the signing CA.
	TTL time.Duration
	// DNSNames become DNS SANs; the first one is also the subject CN.
	DNSNames []string
}

// JWTSVIDParams describes one JWT-SVID to sign.
type JWTSVIDParams struct {
	SPIFFEID spiffeid.ID
	// Audience must hold at least one value.
	Audience []string
	// TTL is the requested lifetime; 0 means the configured default.
	TTL time.Duration
}
