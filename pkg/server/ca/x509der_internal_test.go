package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// testAuthority returns a self-signed CA with key.
func testAuthority(t *testing.T, key crypto.Signer) *X509Authority {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"SPIFFE"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(100 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{{Scheme: "spiffe", Host: "example.org"}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &X509Authority{Cert: cert, Signer: key}
}

func mustECKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDERSignerMatchesCreateCertificate: for every CA curve, subject and
// subject key the SVID signer meets, the certificate derSigner encodes is
// the one x509.CreateCertificate encodes from the same template, byte for
// byte up to the signature, and its signature verifies with the CA key.
func TestDERSignerMatchesCreateCertificate(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spire := pkix.Name{Country: []string{"US"}, Organization: []string{"SPIRE"}}
	y2049 := time.Date(2049, 12, 31, 23, 0, 0, 0, time.UTC)
	now := time.Now()
	tests := []struct {
		name     string
		curve    elliptic.Curve
		subject  pkix.Name
		leaf     crypto.PublicKey
		dnsNames []string
		from, to time.Time
		serial   *big.Int
	}{
		{name: "P-256 CA, P-256 leaf", curve: elliptic.P256(), subject: spire, leaf: mustECKey(t, elliptic.P256()).Public(), from: now, to: now.Add(time.Hour)},
		{name: "P-384 CA, P-384 leaf", curve: elliptic.P384(), subject: spire, leaf: mustECKey(t, elliptic.P384()).Public(), from: now, to: now.Add(time.Hour)},
		{name: "P-521 CA, RSA leaf", curve: elliptic.P521(), subject: spire, leaf: rsaKey.Public(), from: now, to: now.Add(time.Hour)},
		{name: "Ed25519 leaf", curve: elliptic.P256(), subject: spire, leaf: edKey.Public(), from: now, to: now.Add(time.Hour)},
		{name: "DNS names set the CN", curve: elliptic.P256(), subject: spire, leaf: mustECKey(t, elliptic.P256()).Public(), dnsNames: []string{"a.example", "b.example"}, from: now, to: now.Add(time.Hour)},
		{name: "empty subject makes the SAN critical", curve: elliptic.P256(), leaf: mustECKey(t, elliptic.P256()).Public(), from: now, to: now.Add(time.Hour)},
		{name: "validity across 2050 (UTCTime to GeneralizedTime)", curve: elliptic.P256(), subject: spire, leaf: mustECKey(t, elliptic.P256()).Public(), from: y2049, to: y2049.Add(48 * time.Hour)},
		{name: "serial with the high bit set", curve: elliptic.P256(), subject: spire, leaf: mustECKey(t, elliptic.P256()).Public(), from: now, to: now.Add(time.Hour), serial: new(big.Int).Lsh(big.NewInt(1), 127)},
	}
	id := spiffeid.RequireFromString("spiffe://example.org/workload/a")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAuthority(t, mustECKey(t, tt.curve))
			s, err := newX509Signer(a, tt.subject)
			if err != nil {
				t.Fatal(err)
			}
			if s.der == nil {
				t.Fatal("no DER signer for a Go ECDSA CA key")
			}
			serial := tt.serial
			if serial == nil {
				if serial, err = newSerial(); err != nil {
					t.Fatal(err)
				}
			}
			tmpl := s.template(X509SVIDParams{SPIFFEID: id, DNSNames: tt.dnsNames}, serial, tt.from, tt.to)
			want, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, tt.leaf, a.Signer)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.create(tmpl, tt.leaf)
			if err != nil {
				t.Fatal(err)
			}
			wantCert, gotCert := mustParse(t, want), mustParse(t, got)
			if !bytes.Equal(gotCert.RawTBSCertificate, wantCert.RawTBSCertificate) {
				t.Fatalf("TBSCertificate differs from crypto/x509's:\n got %x\nwant %x", gotCert.RawTBSCertificate, wantCert.RawTBSCertificate)
			}
			if gotCert.SignatureAlgorithm != wantCert.SignatureAlgorithm {
				t.Fatalf("signature algorithm %v, want %v", gotCert.SignatureAlgorithm, wantCert.SignatureAlgorithm)
			}
			if err := gotCert.CheckSignatureFrom(a.Cert); err != nil {
				t.Fatalf("signature does not verify with the CA: %v", err)
			}
			// Only the signature value may differ (ECDSA signatures are
			// randomized): same outer framing around it.
			if len(got)-len(gotCert.Signature) > len(want)-len(wantCert.Signature)+2 || len(want)-len(wantCert.Signature) > len(got)-len(gotCert.Signature)+2 {
				t.Fatalf("certificate framing differs: %d bytes around a %d-byte signature, crypto/x509 %d around %d", len(got), len(gotCert.Signature), len(want), len(wantCert.Signature))
			}
		})
	}
}

// TestNoDERSignerForOtherKeys: CAs with keys other than Go's ECDSA keys
// keep x509.CreateCertificate and its check of the signer's output.
func TestNoDERSignerForOtherKeys(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  crypto.Signer
	}{
		{"RSA", rsaKey},
		{"wrapped ECDSA signer", wrappedSigner{mustECKey(t, elliptic.P256())}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if newDERSigner(testAuthority(t, tt.key)) != nil {
				t.Fatal("DER signer for a key that is not a Go *ecdsa.PrivateKey")
			}
		})
	}
}

// wrappedSigner hides the concrete key type, as a signer outside Go would.
type wrappedSigner struct{ crypto.Signer }

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
