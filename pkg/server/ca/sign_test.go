package ca_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/ca"
)

func TestSignX509SVIDFields(t *testing.T) {
	clock := newFakeClock()
	m := newManager(t, testConfig(clock))
	id := mustID(t, "spiffe://example.org/workload")
	key := testca.NewKey(t)

	tests := []struct {
		name     string
		dnsNames []string
		ttl      time.Duration
		wantCN   string
		wantTTL  time.Duration
	}{
		{name: "no DNS names, default TTL", wantTTL: ca.DefaultX509SVIDTTL},
		{name: "DNS names and TTL", dnsNames: []string{"web.example.org", "api.example.org"}, ttl: 5 * time.Minute, wantCN: "web.example.org", wantTTL: 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id, PublicKey: key.Public(), TTL: tt.ttl, DNSNames: tt.dnsNames})

			if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.String() {
				t.Errorf("URI SANs = %v, want only %s", leaf.URIs, id)
			}
			if !slices.Equal(leaf.DNSNames, tt.dnsNames) {
				t.Errorf("DNS SANs = %v, want %v", leaf.DNSNames, tt.dnsNames)
			}
			if len(leaf.EmailAddresses)+len(leaf.IPAddresses) != 0 {
				t.Errorf("unexpected email/IP SANs: %v %v", leaf.EmailAddresses, leaf.IPAddresses)
			}
			if leaf.Subject.CommonName != tt.wantCN {
				t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, tt.wantCN)
			}
			if !slices.Equal(leaf.Subject.Country, []string{"US"}) || !slices.Equal(leaf.Subject.Organization, []string{"SPIRE"}) {
				t.Errorf("subject = %s, want C=US, O=SPIRE", leaf.Subject)
			}
			wantKU := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement
			if leaf.KeyUsage != wantKU {
				t.Errorf("key usage = %b, want %b", leaf.KeyUsage, wantKU)
			}
			if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
				t.Errorf("ext key usage = %v", leaf.ExtKeyUsage)
			}
			if leaf.IsCA || !leaf.BasicConstraintsValid {
				t.Errorf("IsCA = %v, BasicConstraintsValid = %v; want a non-CA leaf", leaf.IsCA, leaf.BasicConstraintsValid)
			}
			if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %s is not a positive 128-bit number", leaf.SerialNumber)
			}
			now := clock.Now()
			if got := now.Sub(leaf.NotBefore); got != 10*time.Second {
				t.Errorf("NotBefore is %s before now, want 10s", got)
			}
			if got := leaf.NotAfter.Sub(now); got != tt.wantTTL {
				t.Errorf("lifetime = %s, want %s", got, tt.wantTTL)
			}
			if !publicKeyEqual(leaf.PublicKey, key.Public()) {
				t.Error("leaf public key is not the requested one")
			}
			gotID, chains, err := x509svid.Verify([]*x509.Certificate{leaf}, m.Bundle())
			if err != nil {
				t.Fatalf("verify against Bundle(): %v", err)
			}
			if gotID != id {
				t.Errorf("verified ID = %s, want %s", gotID, id)
			}
			if root := chains[0][len(chains[0])-1]; len(root.SubjectKeyId) == 0 || !slices.Equal(leaf.AuthorityKeyId, root.SubjectKeyId) {
				t.Errorf("authority key ID = %x, want the CA's subject key ID %x", leaf.AuthorityKeyId, root.SubjectKeyId)
			}
		})
	}
}

func TestSignX509SVIDRaw(t *testing.T) {
	clock := newFakeClock()
	clock.Set(clock.Now().Add(300 * time.Millisecond)) // not on a whole second
	m := newManager(t, testConfig(clock))
	id := mustID(t, "spiffe://example.org/raw")
	key := testca.NewKey(t)
	svid, err := m.SignX509SVIDRaw(context.Background(), ca.X509SVIDParams{SPIFFEID: id, PublicKey: key.Public(), TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(svid.Chain) != 1 {
		t.Fatalf("chain has %d certificates, want 1", len(svid.Chain))
	}
	leaf, err := x509.ParseCertificate(svid.Chain[0])
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotAfter.Equal(svid.NotAfter) {
		t.Errorf("NotAfter = %s, certificate says %s", svid.NotAfter, leaf.NotAfter)
	}
	if !publicKeyEqual(leaf.PublicKey, key.Public()) {
		t.Error("leaf public key is not the requested one")
	}
	if gotID, _, err := x509svid.Verify([]*x509.Certificate{leaf}, m.Bundle()); err != nil || gotID != id {
		t.Fatalf("verify: %s, %v; want %s", gotID, err, id)
	}
	if _, err := m.SignX509SVIDRaw(context.Background(), ca.X509SVIDParams{SPIFFEID: id}); err == nil {
		t.Error("signing without a public key succeeded")
	}
}

func TestSignX509SVIDSerialsDiffer(t *testing.T) {
	m := newManager(t, testConfig(newFakeClock()))
	id := mustID(t, "spiffe://example.org/w")
	a := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id})
	b := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id})
	if a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Errorf("two SVIDs share serial %s", a.SerialNumber)
	}
}

func TestSignX509SVIDErrors(t *testing.T) {
	m := newManager(t, testConfig(newFakeClock()))
	pub := testca.NewKey(t).Public()
	tests := []struct {
		name    string
		params  ca.X509SVIDParams
		wantErr string
	}{
		{name: "other trust domain", params: ca.X509SVIDParams{SPIFFEID: mustID(t, "spiffe://other.org/w"), PublicKey: pub}, wantErr: `not in trust domain "example.org"`},
		{name: "missing SPIFFE ID", params: ca.X509SVIDParams{PublicKey: pub}, wantErr: "spiffe_id is required"},
		{name: "missing public key", params: ca.X509SVIDParams{SPIFFEID: mustID(t, "spiffe://example.org/w")}, wantErr: "public key is required"},
		{name: "negative TTL", params: ca.X509SVIDParams{SPIFFEID: mustID(t, "spiffe://example.org/w"), PublicKey: pub, TTL: -time.Second}, wantErr: "ttl must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.SignX509SVID(context.Background(), tt.params)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSVIDTTLCappedAtAuthorityExpiry(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	cfg.CATTL = 2 * time.Hour
	m := newManager(t, cfg)
	id := mustID(t, "spiffe://example.org/w")
	caCert := m.Bundle().X509Authorities()[0]

	t.Run("X509-SVID", func(t *testing.T) {
		leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id, TTL: 10 * time.Hour})
		if !leaf.NotAfter.Equal(caCert.NotAfter) {
			t.Errorf("NotAfter = %s, want the CA's %s", leaf.NotAfter, caCert.NotAfter)
		}
	})
	t.Run("JWT-SVID", func(t *testing.T) {
		token, err := m.SignJWTSVID(context.Background(), ca.JWTSVIDParams{SPIFFEID: id, Audience: []string{"a"}, TTL: 10 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		svid, err := jwtsvid.ParseAndValidate(token, m.Bundle(), []string{"a"})
		if err != nil {
			t.Fatal(err)
		}
		want := clock.Now().Add(cfg.CATTL)
		if !svid.Expiry.Equal(want) {
			t.Errorf("exp = %s, want the key's expiry %s", svid.Expiry, want)
		}
	})
}

func TestSignJWTSVID(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	cfg.JWTIssuer = "https://oidc.example.org"
	m := newManager(t, cfg)
	id := mustID(t, "spiffe://example.org/workload")

	tests := []struct {
		name     string
		audience []string
		ttl      time.Duration
		wantTTL  time.Duration
	}{
		{name: "one audience, default TTL", audience: []string{"db"}, wantTTL: ca.DefaultJWTSVIDTTL},
		{name: "two audiences, TTL", audience: []string{"db", "cache"}, ttl: time.Minute, wantTTL: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := m.SignJWTSVID(context.Background(), ca.JWTSVIDParams{SPIFFEID: id, Audience: tt.audience, TTL: tt.ttl})
			if err != nil {
				t.Fatal(err)
			}
			svid, err := jwtsvid.ParseAndValidate(token, m.Bundle(), tt.audience[:1])
			if err != nil {
				t.Fatalf("ParseAndValidate: %v", err)
			}
			if svid.ID != id {
				t.Errorf("sub = %s, want %s", svid.ID, id)
			}
			if !slices.Equal(svid.Audience, tt.audience) {
				t.Errorf("aud = %v, want %v", svid.Audience, tt.audience)
			}
			if got := svid.Expiry.Sub(clock.Now()); got != tt.wantTTL {
				t.Errorf("exp - now = %s, want %s", got, tt.wantTTL)
			}
			if svid.Claims["iss"] != cfg.JWTIssuer {
				t.Errorf("iss = %v, want %q", svid.Claims["iss"], cfg.JWTIssuer)
			}
			if iat, _ := svid.Claims["iat"].(float64); int64(iat) != clock.Now().Unix() {
				t.Errorf("iat = %v, want %d", svid.Claims["iat"], clock.Now().Unix())
			}
			hdr := jwtHeader(t, token)
			if !m.Bundle().HasJWTAuthority(hdr.KeyID) {
				t.Errorf("kid %q is not in the bundle", hdr.KeyID)
			}
			if typ := hdr.ExtraHeaders[jose.HeaderType]; typ != "JWT" {
				t.Errorf("typ = %v, want JWT", typ)
			}
			if hdr.Algorithm != string(jose.ES256) {
				t.Errorf("alg = %s, want ES256", hdr.Algorithm)
			}
		})
	}
}

func TestSignJWTSVIDWithoutIssuer(t *testing.T) {
	m := newManager(t, testConfig(newFakeClock()))
	token, err := m.SignJWTSVID(context.Background(), ca.JWTSVIDParams{SPIFFEID: mustID(t, "spiffe://example.org/w"), Audience: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	svid, err := jwtsvid.ParseAndValidate(token, m.Bundle(), []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := svid.Claims["iss"]; ok {
		t.Errorf("iss present without JWTIssuer: %v", svid.Claims["iss"])
	}
}

func TestSignJWTSVIDErrors(t *testing.T) {
	m := newManager(t, testConfig(newFakeClock()))
	id := mustID(t, "spiffe://example.org/w")
	tests := []struct {
		name    string
		params  ca.JWTSVIDParams
		wantErr string
	}{
		{name: "no audience", params: ca.JWTSVIDParams{SPIFFEID: id}, wantErr: "audience is required"},
		{name: "empty audience value", params: ca.JWTSVIDParams{SPIFFEID: id, Audience: []string{"a", ""}}, wantErr: "audience[1] is empty"},
		{name: "other trust domain", params: ca.JWTSVIDParams{SPIFFEID: mustID(t, "spiffe://other.org/w"), Audience: []string{"a"}}, wantErr: `not in trust domain "example.org"`},
		{name: "missing SPIFFE ID", params: ca.JWTSVIDParams{Audience: []string{"a"}}, wantErr: "spiffe_id is required"},
		{name: "negative TTL", params: ca.JWTSVIDParams{SPIFFEID: id, Audience: []string{"a"}, TTL: -time.Second}, wantErr: "ttl must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.SignJWTSVID(context.Background(), tt.params)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// jwtHeader returns the JOSE header of token without verifying it.
func jwtHeader(t testing.TB, token string) jose.Header {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	return tok.Headers[0]
}

func publicKeyEqual(a, b any) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ae.Equal(b)
}
