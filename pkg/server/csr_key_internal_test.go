package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// csrVariant is a CSR minimalCSRKey must read as crypto/x509 does.
type csrVariant struct {
	name string
	der  []byte
	// fast is whether minimalCSRKey must take it (the shapes agents send);
	// the others must fall back to crypto/x509.
	fast bool
}

// csrVariants returns CSRs of every shape the fast path distinguishes,
// valid and broken.
func csrVariants(t testing.TB) []csrVariant {
	t.Helper()
	p256 := mustKey(t, elliptic.P256())
	csrOf := func(tmpl *x509.CertificateRequest, key crypto.Signer) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	agent := csrOf(&x509.CertificateRequest{}, p256)
	badSig := slices.Clone(agent)
	badSig[len(badSig)-3] ^= 1
	badTBS := slices.Clone(agent)
	badTBS[len(badTBS)/3] ^= 0x40
	spire := pkix.Name{Country: []string{"US"}, Organization: []string{"SPIRE"}}
	return []csrVariant{
		{name: "svidkit agent: empty subject, P-256", der: agent, fast: true},
		{name: "SPIRE agent: subject C=US O=SPIRE", der: csrOf(&x509.CertificateRequest{Subject: spire}, p256), fast: true},
		{name: "P-384 key", der: csrOf(&x509.CertificateRequest{}, mustKey(t, elliptic.P384())), fast: true},
		{name: "P-521 key", der: csrOf(&x509.CertificateRequest{}, mustKey(t, elliptic.P521())), fast: true},
		{name: "P-256 key signed with SHA-512", der: csrOf(&x509.CertificateRequest{SignatureAlgorithm: x509.ECDSAWithSHA512}, p256), fast: true},
		{name: "URI SAN (attributes)", der: csrOf(&x509.CertificateRequest{URIs: []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/w"}}}, p256)},
		{name: "P-224 key", der: csrOf(&x509.CertificateRequest{}, mustKey(t, elliptic.P224()))},
		{name: "RSA key", der: csrOf(&x509.CertificateRequest{}, rsaKey)},
		{name: "Ed25519 key", der: csrOf(&x509.CertificateRequest{}, edKey)},
		{name: "signature altered", der: badSig},
		{name: "signed content altered", der: badTBS},
		{name: "trailing data", der: append(slices.Clone(agent), 0)},
		{name: "truncated", der: agent[:len(agent)-1]},
		{name: "garbage", der: []byte("garbage")},
		{name: "empty", der: nil},
	}
}

func mustKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestMinimalCSRKeyAgreesWithX509: the agent-shaped CSRs take the fast
// path, every other CSR falls back, and whenever the fast path returns a
// key, crypto/x509 parses the CSR, verifies its signature and finds the
// same key. csrKey fails exactly when parseCSR does.
func TestMinimalCSRKeyAgreesWithX509(t *testing.T) {
	for _, v := range csrVariants(t) {
		t.Run(v.name, func(t *testing.T) {
			fast := minimalCSRKey(v.der)
			if (fast != nil) != v.fast {
				t.Fatalf("fast path taken: %v, want %v", fast != nil, v.fast)
			}
			checkAgreesWithX509(t, v.der)
		})
	}
}

// FuzzMinimalCSRKey: on any input, a key from minimalCSRKey is one
// crypto/x509 accepts with a valid signature.
func FuzzMinimalCSRKey(f *testing.F) {
	for _, v := range csrVariants(f) {
		f.Add(v.der)
	}
	f.Fuzz(checkAgreesWithX509)
}

func checkAgreesWithX509(t *testing.T, der []byte) {
	fast := minimalCSRKey(der)
	csr, wantErr := parseCSR("csr", der)
	if fast != nil {
		if wantErr != nil {
			t.Fatalf("fast path accepted a CSR crypto/x509 rejects: %v", wantErr)
		}
		if !fast.Equal(csr.PublicKey) {
			t.Fatal("fast path read a different key than crypto/x509")
		}
	}
	pub, err := csrKey("csr", der)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("csrKey error %v, parseCSR error %v", err, wantErr)
	case err != nil && errorKind(err) != errorKind(wantErr):
		// encoding/asn1's messages may print pointers: compare the
		// field and the kind of failure.
		t.Fatalf("csrKey error %q, want parseCSR's %q", err, wantErr)
	case err == nil && !csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub):
		t.Fatal("csrKey returned a different key than crypto/x509")
	}
}

// errorKind is an error message up to its second colon ("csr: malformed
// CSR").
func errorKind(err error) string {
	parts := strings.SplitN(err.Error(), ":", 3)
	return strings.Join(parts[:min(2, len(parts))], ":")
}

// BenchmarkCSRKey compares reading an agent's CSR key through
// crypto/x509 (parseCSR, the path before minimalCSRKey) and through
// csrKey; both verify the signature.
func BenchmarkCSRKey(b *testing.B) {
	der := csrVariants(b)[0].der
	b.Run("x509", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseCSR("csr", der); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("csrKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := csrKey("csr", der); err != nil {
				b.Fatal(err)
			}
		}
	})
}
