package svidformat_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// testCA mints certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newCert(t *testing.T, tmpl *x509.Certificate, parent *testCA, key crypto.Signer) *x509.Certificate {
	t.Helper()
	sn, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = sn
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(time.Hour)
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRoot(t *testing.T, name string, notAfter time.Time) *testCA {
	k := ecKey(t)
	c := newCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotAfter: notAfter,
	}, nil, k)
	return &testCA{cert: c, key: k}
}

func (ca *testCA) intermediate(t *testing.T) *testCA {
	k := ecKey(t)
	c := newCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, ca, k)
	return &testCA{cert: c, key: k}
}

// svid mints an X.509-SVID for id under ca with the given leaf key,
// chained leaf, ca (if ca is an intermediate, pass it in chain).
func (ca *testCA) svid(t *testing.T, id string, key crypto.Signer, chain ...*x509.Certificate) *x509svid.SVID {
	sid := spiffeid.RequireFromString(id)
	u, _ := url.Parse(id)
	leaf := newCert(t, &x509.Certificate{
		URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, ca, key)
	return &x509svid.SVID{ID: sid, Certificates: append([]*x509.Certificate{leaf}, chain...), PrivateKey: key}
}

// fixture is a trust domain example.org (root -> intermediate -> leaf) and
// two federated trust domains, a.org and z.org.
type fixture struct {
	root, inter, fedA, fedZ *testCA
	svid                    *x509svid.SVID
	bundles                 *x509bundle.Set
}

func newFixture(t *testing.T, key crypto.Signer) fixture {
	t.Helper()
	if key == nil {
		key = ecKey(t)
	}
	f := fixture{root: newRoot(t, "root", time.Time{}), fedA: newRoot(t, "a", time.Time{}), fedZ: newRoot(t, "z", time.Time{})}
	f.inter = f.root.intermediate(t)
	f.svid = f.inter.svid(t, "spiffe://example.org/workload", key, f.inter.cert)
	// Federated sets added in reverse order: output must be sorted by name.
	f.bundles = x509bundle.NewSet(
		x509bundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString("z.org"), []*x509.Certificate{f.fedZ.cert}),
		x509bundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString("example.org"), []*x509.Certificate{f.root.cert}),
		x509bundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString("a.org"), []*x509.Certificate{f.fedA.cert}),
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
