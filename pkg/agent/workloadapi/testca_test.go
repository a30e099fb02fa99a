package workloadapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/server/ca"
)

// testCA is a trust domain's CA (internal/testca) minting identities in the
// shape the Workload API handler serves.
type testCA struct {
	*testca.CA
	tb testing.TB
}

func newTestCA(tb testing.TB, td string) *testCA {
	tb.Helper()
	return &testCA{CA: testca.NewForTest(tb, td), tb: tb}
}

// rotateJWTKey replaces the JWT signing key, as a CA rotation would, and
// returns the new key ID.
func (c *testCA) rotateJWTKey() string {
	kid, err := c.RotateJWTKey()
	if err != nil {
		c.tb.Fatal(err)
	}
	return kid
}

// bundle returns the trust domain's bundle.
func (c *testCA) bundle() *spiffebundle.Bundle { return c.Bundle() }

// identity mints an X.509-SVID for path.
func (c *testCA) identity(path, hint string) workloadapi.Identity {
	c.tb.Helper()
	s := c.NewX509SVID(c.tb, spiffeid.RequireFromPath(c.TrustDomain(), path))
	return workloadapi.Identity{EntryID: "entry-" + path, SPIFFEID: s.ID, Hint: hint, Chain: s.Certificates, Key: s.PrivateKey}
}

// signJWT mints a JWT-SVID for id and audience and returns it with its
// expiry.
func (c *testCA) signJWT(id spiffeid.ID, audience []string) (string, time.Time, error) {
	token, err := c.SignJWTSVID(context.Background(), ca.JWTSVIDParams{SPIFFEID: id, Audience: audience, TTL: time.Hour})
	if err != nil {
		return "", time.Time{}, err
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return "", time.Time{}, err
	}
	var claims jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return "", time.Time{}, err
	}
	return token, claims.Expiry.Time(), nil
}
