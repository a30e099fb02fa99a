package helper_test

import (
	"crypto/x509"
	"testing"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/testca"
)

// td is the trust domain the helper's tests are issued identities in.
const td = "helper.test"

func newCA(t testing.TB) *testca.CA { return testca.NewForTest(t, td) }

// newFakeAPI returns a fake Workload API for sock, not yet started, that
// mints JWT-SVIDs with ca and serves its JWT bundle.
func newFakeAPI(t testing.TB, ca *testca.CA, sock string) *fakeworkloadapi.Server {
	api := fakeworkloadapi.New(sock)
	api.SetJWTIssuer(ca)
	api.SetJWTBundles(fakeworkloadapi.JWTBundles(t, ca))
	return api
}

// svid mints an X.509-SVID for path in td.
func svid(t testing.TB, ca *testca.CA, path, hint string) *workload.X509SVID {
	return fakeworkloadapi.X509SVID(t, ca, path, hint)
}

// serialHex is s's leaf serial as the helper's events print it.
func serialHex(t testing.TB, s *workload.X509SVID) string {
	t.Helper()
	certs, err := x509.ParseCertificates(s.X509Svid)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0].SerialNumber.Text(16)
}

func sockDir(t testing.TB) string { return fakeworkloadapi.SocketPath(t, "api.sock") }
