package testca

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
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
	return c.MintX509SVID(t, id, SVIDOptions{})
}
