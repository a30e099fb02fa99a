package testca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

// NewForTest creates a CA for the trust domain name td, failing t on error.
func NewForTest(t testing.TB, td string) *CA {
	t.Helper()
	c, err := New(spiffeid.RequireTrustDomainFromString(td), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewX509SVID mints an X.509-SVID for id with a fresh P-256 key and the
// default lifetime, failing t on error.
func (c *CA) NewX509SVID(t testing.TB, id spiffeid.ID) *x509svid.SVID {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := c.SignX509SVID(context.Background(), ca.X509SVIDParams{SPIFFEID: id, PublicKey: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return &x509svid.SVID{ID: id, Certificates: chain, PrivateKey: key}
}
