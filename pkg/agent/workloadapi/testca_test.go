package workloadapi_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
)

// testCA mints X.509-SVIDs and JWT-SVIDs for one trust domain.
type testCA struct {
	tb     testing.TB
	td     spiffeid.TrustDomain
	cert   *x509.Certificate
	key    crypto.Signer
	jwtKey crypto.Signer
	jwtKID string
	serial int64
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func newTestCA(tb testing.TB, td string) *testCA {
	tb.Helper()
	ca := &testCA{tb: tb, td: spiffeid.RequireTrustDomainFromString(td), key: newKey(tb), jwtKey: newKey(tb), jwtKID: "kid-1"}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA " + td},
		URIs:                  []*url.URL{ca.td.ID().URL()},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ca.key.Public(), ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	if ca.cert, err = x509.ParseCertificate(der); err != nil {
		tb.Fatal(err)
	}
	return ca
}

// rotateJWTKey replaces the JWT signing key, as a CA rotation would.
func (ca *testCA) rotateJWTKey(kid string) {
	ca.jwtKey, ca.jwtKID = newKey(ca.tb), kid
}

// bundle returns the trust domain's bundle.
func (ca *testCA) bundle() *spiffebundle.Bundle {
	b := spiffebundle.New(ca.td)
	b.AddX509Authority(ca.cert)
	if err := b.AddJWTAuthority(ca.jwtKID, ca.jwtKey.Public()); err != nil {
		ca.tb.Fatal(err)
	}
	return b
}

// identity mints an X.509-SVID for path.
func (ca *testCA) identity(path, hint string) workloadapi.Identity {
	ca.tb.Helper()
	id := spiffeid.RequireFromPath(ca.td, path)
	key := newKey(ca.tb)
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1000 + ca.serial),
		URIs:         []*url.URL{id.URL()},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		ca.tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		ca.tb.Fatal(err)
	}
	return workloadapi.Identity{EntryID: "entry-" + path, SPIFFEID: id, Hint: hint, Chain: []*x509.Certificate{cert}, Key: key}
}

// signJWT mints a JWT-SVID for id and audience.
func (ca *testCA) signJWT(id spiffeid.ID, audience []string) (string, time.Time, error) {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: ca.jwtKey, KeyID: ca.jwtKID}},
		new(jose.SignerOptions).WithType("JWT"),
	)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	token, err := jwt.Signed(signer).Claims(jwt.Claims{
		Subject:  id.String(),
		Audience: audience,
		IssuedAt: jwt.NewNumericDate(time.Now()),
		Expiry:   jwt.NewNumericDate(exp),
	}).Serialize()
	return token, exp, err
}
