package svidformat_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/internal/testca"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// newCA returns a test CA for the trust domain td whose clock reads at: its
// root is valid from a minute before at for a day, and its SVIDs from ten
// seconds before at for an hour.
func newCA(t *testing.T, td string, at time.Time) *testca.CA {
	t.Helper()
	c, err := testca.New(spiffeid.RequireTrustDomainFromString(td), func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture is a trust domain example.org (root -> intermediate -> leaf) and
// two federated trust domains, a.org and z.org.
type fixture struct {
	root, inter, fedA, fedZ *testca.CA
	svid                    *x509svid.SVID
	bundles                 *x509bundle.Set
}

func newFixture(t *testing.T, key crypto.Signer) fixture {
	t.Helper()
	f := fixture{root: newCA(t, "example.org", now), fedA: newCA(t, "a.org", now), fedZ: newCA(t, "z.org", now)}
	f.inter = f.root.NewIntermediate(t)
	f.svid = f.inter.MintX509SVID(t, spiffeid.RequireFromString("spiffe://example.org/workload"), testca.SVIDOptions{Key: key})
	// Federated sets added in reverse order: output must be sorted by name.
	f.bundles = x509bundle.NewSet(
		x509bundle.FromX509Authorities(f.fedZ.TrustDomain(), []*x509.Certificate{f.fedZ.Root()}),
		x509bundle.FromX509Authorities(f.root.TrustDomain(), []*x509.Certificate{f.root.Root()}),
		x509bundle.FromX509Authorities(f.fedA.TrustDomain(), []*x509.Certificate{f.fedA.Root()}),
	)
	return f
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fileMode(m uint32) os.FileMode { return os.FileMode(m) }
