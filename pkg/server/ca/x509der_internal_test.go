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
	"encoding/asn1"
	"fmt"
	"math/big"
	mathrand "math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// testAuthority returns a self-signed CA with key.
func testAuthority(t testing.TB, key crypto.Signer) *X509Authority {
	t.Helper()
	return testAuthorityWith(t, key, pkix.Name{Country: []string{"US"}, Organization: []string{"SPIFFE"}}, true)
}

// testAuthorityWith returns a self-signed CA with key and subject;
// crypto/x509 gives it a subject key ID only when isCA.
func testAuthorityWith(t testing.TB, key crypto.Signer, subject pkix.Name, isCA bool) *X509Authority {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: subject,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(100 * 365 * 24 * time.Hour),
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
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

func mustECKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// derCase is one SVID for the DER signer to encode as crypto/x509 does.
type derCase struct {
	name     string
	curve    elliptic.Curve
	subject  pkix.Name
	leaf     crypto.PublicKey
	dnsNames []string
	from, to time.Time
	serial   *big.Int
	// caSubject and caNoSKID shape the CA certificate (default
	// C=US O=SPIFFE, with a subject key ID).
	caSubject *pkix.Name
	caNoSKID  bool
	// wantErr is set when crypto/x509 refuses the template, and the DER
	// signer must refuse it too.
	wantErr bool
}

// TestDERSignerMatchesCreateCertificate: for every CA curve and shape,
// subject, subject key, SAN set, serial and validity the SVID signer
// meets, the certificate derSigner encodes is the one
// x509.CreateCertificate encodes from the same template, byte for byte up
// to the signature; its signature verifies with the CA key; and its
// fields and extensions are those of a plain crypto/x509 template without
// the precomputed extensions (key usage, extended key usage, basic
// constraints, authority key ID, SAN, no subject key ID).
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
	y1949 := time.Date(1949, 12, 31, 23, 0, 0, 0, time.UTC)
	now := time.Now()
	p256 := func() crypto.PublicKey { return mustECKey(t, elliptic.P256()).Public() }
	tests := []derCase{
		{name: "P-256 CA, P-256 leaf", curve: elliptic.P256(), subject: spire, leaf: p256(), from: now, to: now.Add(time.Hour)},
		{name: "P-384 CA, P-384 leaf", curve: elliptic.P384(), subject: spire, leaf: mustECKey(t, elliptic.P384()).Public(), from: now, to: now.Add(time.Hour)},
		{name: "P-521 CA, P-521 leaf", curve: elliptic.P521(), subject: spire, leaf: mustECKey(t, elliptic.P521()).Public(), from: now, to: now.Add(time.Hour)},
		{name: "P-521 CA, RSA leaf", curve: elliptic.P521(), subject: spire, leaf: rsaKey.Public(), from: now, to: now.Add(time.Hour)},
		{name: "P-224 leaf", curve: elliptic.P256(), subject: spire, leaf: mustECKey(t, elliptic.P224()).Public(), from: now, to: now.Add(time.Hour)},
		{name: "Ed25519 leaf", curve: elliptic.P256(), subject: spire, leaf: edKey.Public(), from: now, to: now.Add(time.Hour)},
		{name: "DNS names set the CN", curve: elliptic.P256(), subject: spire, leaf: p256(), dnsNames: []string{"a.example", "b.example"}, from: now, to: now.Add(time.Hour)},
		{name: "empty subject makes the SAN critical", curve: elliptic.P256(), leaf: p256(), from: now, to: now.Add(time.Hour)},
		{name: "CA subject equals the SVID subject", curve: elliptic.P256(), subject: spire, caSubject: &spire, leaf: p256(), from: now, to: now.Add(time.Hour)},
		{name: "CA subject equals the SVID subject, DNS names", curve: elliptic.P256(), subject: spire, caSubject: &spire, leaf: p256(), dnsNames: []string{"a.example"}, from: now, to: now.Add(time.Hour)},
		{name: "CA without subject key ID: no authority key ID", curve: elliptic.P256(), subject: spire, caNoSKID: true, leaf: p256(), from: now, to: now.Add(time.Hour)},
		{name: "validity across 2050 (UTCTime to GeneralizedTime)", curve: elliptic.P256(), subject: spire, leaf: p256(), from: y2049, to: y2049.Add(48 * time.Hour)},
		{name: "validity from 1949 (GeneralizedTime to UTCTime)", curve: elliptic.P256(), subject: spire, leaf: p256(), from: y1949, to: y1949.Add(48 * time.Hour)},
		{name: "serial with the high bit set", curve: elliptic.P256(), subject: spire, leaf: p256(), from: now, to: now.Add(time.Hour), serial: new(big.Int).Lsh(big.NewInt(1), 127)},
		{name: "serial 1", curve: elliptic.P256(), subject: spire, leaf: p256(), from: now, to: now.Add(time.Hour), serial: big.NewInt(1)},
		{name: "serial 0", curve: elliptic.P256(), subject: spire, leaf: p256(), from: now, to: now.Add(time.Hour), serial: big.NewInt(0)},
		{name: "negative serial is refused", curve: elliptic.P256(), subject: spire, leaf: p256(), from: now, to: now.Add(time.Hour), serial: big.NewInt(-5), wantErr: true},
		{name: "non-ASCII DNS name is refused", curve: elliptic.P256(), subject: spire, leaf: p256(), dnsNames: []string{"b\u00fccher.example"}, from: now, to: now.Add(time.Hour), wantErr: true},
	}
	id := spiffeid.RequireFromString("spiffe://example.org/workload/a")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDERCase(t, tt, id)
		})
	}
}

// TestDERSignerRandomized runs checkDERCase over random SAN sets,
// serials, validity periods and CA and leaf curves, from a logged seed.
func TestDERSignerRandomized(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := mathrand.New(mathrand.NewPCG(seed, seed))
	curves := []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()}
	subjects := []pkix.Name{{}, {Country: []string{"US"}, Organization: []string{"SPIRE"}}, {Organization: []string{"a\u00e9b"}, CommonName: "x"}}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
	label := func() string {
		b := make([]byte, 1+rnd.IntN(20))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		return string(b)
	}
	const idAlphabet = alphabet + "ABCDEFGHIJKLMNOPQRSTUVWXYZ._"
	idLabel := func() string {
		b := make([]byte, 1+rnd.IntN(20))
		for i := range b {
			b[i] = idAlphabet[rnd.IntN(len(idAlphabet))]
		}
		return "w" + string(b)
	}
	base := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		c := derCase{
			curve:   curves[rnd.IntN(len(curves))],
			subject: subjects[rnd.IntN(len(subjects))],
			leaf:    mustECKey(t, curves[rnd.IntN(len(curves))]).Public(),
		}
		serial := make([]byte, 1+rnd.IntN(20))
		for j := range serial {
			serial[j] = byte(rnd.Uint32())
		}
		c.serial = new(big.Int).SetBytes(serial)
		for range rnd.IntN(4) {
			c.dnsNames = append(c.dnsNames, label()+".example")
		}
		c.from = base.Add(time.Duration(rnd.Int64N(int64(160 * 365 * 24 * time.Hour))))
		c.to = c.from.Add(time.Duration(rnd.Int64N(int64(20 * 365 * 24 * time.Hour))))
		c.name = fmt.Sprintf("case %d", i)
		// The DER signer writes the ID's string where crypto/x509 writes
		// its URL's: IDs use every character a SPIFFE ID may hold.
		id := spiffeid.RequireFromPath(spiffeid.RequireTrustDomainFromString("td_"+label()+".example"), "/"+idLabel()+"/"+idLabel())
		t.Run(c.name, func(t *testing.T) { checkDERCase(t, c, id) })
	}
}

// checkDERCase signs c for id with the DER signer and compares the result
// with crypto/x509's, as TestDERSignerMatchesCreateCertificate describes.
func checkDERCase(t *testing.T, c derCase, id spiffeid.ID) {
	t.Helper()
	caSubject := pkix.Name{Country: []string{"US"}, Organization: []string{"SPIFFE"}}
	if c.caSubject != nil {
		caSubject = *c.caSubject
	}
	a := testAuthorityWith(t, mustECKey(t, c.curve), caSubject, !c.caNoSKID)
	if c.caNoSKID != (len(a.Cert.SubjectKeyId) == 0) {
		t.Fatalf("CA subject key ID %x, want none: %v", a.Cert.SubjectKeyId, c.caNoSKID)
	}
	s, err := newX509Signer(a, c.subject)
	if err != nil {
		t.Fatal(err)
	}
	if s.der == nil {
		t.Fatal("no DER signer for a Go ECDSA CA key")
	}
	serial := c.serial
	if serial == nil {
		if serial, err = newSerial(); err != nil {
			t.Fatal(err)
		}
	}
	p := X509SVIDParams{SPIFFEID: id, PublicKey: c.leaf, DNSNames: c.dnsNames}
	want, wantErr := x509.CreateCertificate(rand.Reader, s.template(p, serial, c.from, c.to), a.Cert, c.leaf, a.Signer)
	got, err := s.sign(p, serial, c.from, c.to)
	if c.wantErr {
		if wantErr == nil || err == nil {
			t.Fatalf("want both to refuse: crypto/x509 error %v, DER signer error %v", wantErr, err)
		}
		return
	}
	if wantErr != nil {
		t.Fatal(wantErr)
	}
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
	if err := a.Cert.CheckSignature(gotCert.SignatureAlgorithm, gotCert.RawTBSCertificate, gotCert.Signature); err != nil {
		t.Fatalf("signature does not verify with the CA: %v", err)
	}
	// Only the signature value may differ (ECDSA signatures are
	// randomized): same outer framing around it.
	if len(got)-len(gotCert.Signature) > len(want)-len(wantCert.Signature)+2 || len(want)-len(wantCert.Signature) > len(got)-len(gotCert.Signature)+2 {
		t.Fatalf("certificate framing differs: %d bytes around a %d-byte signature, crypto/x509 %d around %d", len(got), len(gotCert.Signature), len(want), len(wantCert.Signature))
	}
	checkLikePlainTemplate(t, a, c, id, serial, gotCert)
}

// checkLikePlainTemplate compares got with the certificate crypto/x509
// builds from a plain SVID template (no precomputed extensions): the same
// fields and the same extensions, in crypto/x509's order or not.
func checkLikePlainTemplate(t *testing.T, a *X509Authority, c derCase, id spiffeid.ID, serial *big.Int, got *x509.Certificate) {
	t.Helper()
	plain := &x509.Certificate{
		SerialNumber: serial, NotBefore: c.from, NotAfter: c.to, Subject: c.subject,
		URIs: []*url.URL{id.URL()}, DNSNames: c.dnsNames,
		BasicConstraintsValid: true, KeyUsage: svidKeyUsage, ExtKeyUsage: svidExtKeyUsage,
	}
	if len(c.dnsNames) > 0 {
		plain.Subject.CommonName = c.dnsNames[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, plain, a.Cert, c.leaf, a.Signer)
	if err != nil {
		t.Fatal(err)
	}
	want := mustParse(t, der)
	if bytes.Equal(want.RawSubject, want.RawIssuer) && len(a.Cert.SubjectKeyId) > 0 {
		// crypto/x509 leaves out the authority key ID when the subject
		// equals the issuer; the SVID signer always includes it.
		want.Extensions = append(want.Extensions, pkix.Extension{Id: oidAuthorityKeyID, Value: mustAKID(t, a.Cert.SubjectKeyId)})
	}
	fields := []struct {
		name      string
		got, want []byte
	}{
		{"subject", got.RawSubject, want.RawSubject},
		{"issuer", got.RawIssuer, want.RawIssuer},
		{"subject public key", got.RawSubjectPublicKeyInfo, want.RawSubjectPublicKeyInfo},
		{"serial", got.SerialNumber.Bytes(), want.SerialNumber.Bytes()},
		{"subject key ID", got.SubjectKeyId, want.SubjectKeyId},
	}
	for _, f := range fields {
		if !bytes.Equal(f.got, f.want) {
			t.Errorf("%s %x, plain crypto/x509 template %x", f.name, f.got, f.want)
		}
	}
	if !got.NotBefore.Equal(want.NotBefore) || !got.NotAfter.Equal(want.NotAfter) {
		t.Errorf("validity %v-%v, plain template %v-%v", got.NotBefore, got.NotAfter, want.NotBefore, want.NotAfter)
	}
	byID := func(exts []pkix.Extension) map[string]pkix.Extension {
		m := make(map[string]pkix.Extension, len(exts))
		for _, e := range exts {
			if _, dup := m[e.Id.String()]; dup {
				t.Fatalf("duplicate extension %v", e.Id)
			}
			m[e.Id.String()] = pkix.Extension{Id: e.Id, Critical: e.Critical, Value: e.Value}
		}
		return m
	}
	gotExts, wantExts := byID(got.Extensions), byID(want.Extensions)
	if len(gotExts) != len(wantExts) {
		t.Errorf("%d extensions, plain template %d", len(gotExts), len(wantExts))
	}
	for oid, w := range wantExts {
		g, ok := gotExts[oid]
		if !ok || g.Critical != w.Critical || !bytes.Equal(g.Value, w.Value) {
			t.Errorf("extension %s: got %+v, plain template %+v", oid, g, w)
		}
	}
}

// mustAKID encodes an authority key ID extension value as crypto/x509
// does.
func mustAKID(t *testing.T, skid []byte) []byte {
	t.Helper()
	v, err := asn1.Marshal(struct {
		ID []byte `asn1:"optional,tag:0"`
	}{skid})
	if err != nil {
		t.Fatal(err)
	}
	return v
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
			s, err := newX509Signer(testAuthority(t, tt.key), pkix.Name{})
			if err != nil {
				t.Fatal(err)
			}
			if s.der != nil {
				t.Fatal("DER signer for a key that is not a Go *ecdsa.PrivateKey")
			}
		})
	}
}

// wrappedSigner hides the concrete key type, as a signer outside Go would.
type wrappedSigner struct{ crypto.Signer }

func mustParse(t testing.TB, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDERSignerDeterministicSignature: the DER signer's signature is the
// RFC 6979 signature of the TBSCertificate under the digest crypto/x509
// picks for the CA's curve, so the same SVID signed twice is the same
// certificate (SVIDs differ by their random serials).
func TestDERSignerDeterministicSignature(t *testing.T) {
	tests := []struct {
		curve elliptic.Curve
		hash  crypto.Hash
	}{
		{elliptic.P256(), crypto.SHA256},
		{elliptic.P384(), crypto.SHA384},
		{elliptic.P521(), crypto.SHA512},
	}
	id := spiffeid.RequireFromString("spiffe://example.org/workload/a")
	for _, tt := range tests {
		t.Run(tt.curve.Params().Name, func(t *testing.T) {
			key := mustECKey(t, tt.curve)
			s, err := newX509Signer(testAuthority(t, key), pkix.Name{Organization: []string{"SPIRE"}})
			if err != nil {
				t.Fatal(err)
			}
			serial, err := newSerial()
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			p := X509SVIDParams{SPIFFEID: id, PublicKey: mustECKey(t, elliptic.P256()).Public()}
			first, err := s.sign(p, serial, now, now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			second, err := s.sign(p, serial, now, now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Fatal("the same SVID signed twice gave two certificates")
			}
			cert := mustParse(t, first)
			h := tt.hash.New()
			h.Write(cert.RawTBSCertificate)
			want, err := key.Sign(nil, h.Sum(nil), tt.hash)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cert.Signature, want) {
				t.Fatalf("signature %x, want the RFC 6979 signature %x", cert.Signature, want)
			}
		})
	}
}
