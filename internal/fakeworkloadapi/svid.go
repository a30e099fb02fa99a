package fakeworkloadapi

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
)

// X509SVID mints, with c, an X.509-SVID for path ("/web") in c's trust
// domain with a fresh key and the given hint, as the Workload API sends it.
func X509SVID(t testing.TB, c *testca.CA, path, hint string) *workload.X509SVID {
	t.Helper()
	id, err := spiffeid.FromPath(c.TrustDomain(), path)
	if err != nil {
		t.Fatal(err)
	}
	s := c.NewX509SVID(t, id)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(s.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var der []byte
	for _, cert := range s.Certificates {
		der = append(der, cert.Raw...)
	}
	return &workload.X509SVID{SpiffeId: id.String(), X509Svid: der, X509SvidKey: pkcs8, Bundle: c.Root().Raw, Hint: hint}
}

// JWTBundles returns c's JWT bundle keyed by its trust domain ID, as
// SetJWTBundles takes it.
func JWTBundles(t testing.TB, c *testca.CA) map[string][]byte {
	t.Helper()
	jwks, err := c.Bundle().JWTBundle().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{c.TrustDomain().IDString(): jwks}
}

// SocketPath returns a short path for a Unix socket named name in a fresh
// directory removed at the test's end (sun_path holds 108 bytes, too few
// for t.TempDir under a long test name).
func SocketPath(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fwapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, name)
}
