package server

import (
	"context"
	"crypto/x509"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

// Authority is what the server's APIs need from the certificate authority.
// *ca.Manager implements it.
type Authority interface {
	// TrustDomain is the trust domain the authority signs for.
	TrustDomain() spiffeid.TrustDomain
	// SignX509SVID signs an X.509-SVID with the active X.509 CA and returns
	// the chain, leaf first.
	SignX509SVID(ctx context.Context, p ca.X509SVIDParams) ([]*x509.Certificate, error)
	// SignJWTSVID signs a JWT-SVID with the active JWT key.
	SignJWTSVID(ctx context.Context, p ca.JWTSVIDParams) (string, error)
	// Bundle returns the current trust bundle of the trust domain: every
	// published X.509 authority (active, prepared-next, and retired ones whose
	// issued SVIDs may still be valid) and every published JWT key.
	Bundle() *spiffebundle.Bundle
}
