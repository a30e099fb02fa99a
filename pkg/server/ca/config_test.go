package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*ca.Config)
		wantErr string
	}{
		{name: "no trust domain", mutate: func(c *ca.Config) { c.TrustDomain = spiffeid.TrustDomain{} }, wantErr: "trust_domain is required"},
		{name: "no key store", mutate: func(c *ca.Config) { c.Keys = nil }, wantErr: "key store is required"},
		{name: "no bundle store", mutate: func(c *ca.Config) { c.Bundles = nil }, wantErr: "bundle store is required"},
		{name: "unknown key type", mutate: func(c *ca.Config) { c.KeyType = "ed25519" }, wantErr: `ca_key_type "ed25519": unsupported`},
		{name: "negative CA TTL", mutate: func(c *ca.Config) { c.CATTL = -time.Hour }, wantErr: "ca_ttl: must not be negative"},
		{name: "negative X509-SVID TTL", mutate: func(c *ca.Config) { c.X509SVIDTTL = -time.Hour }, wantErr: "default_x509_svid_ttl: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(newFakeClock())
			tt.mutate(&cfg)
			_, err := ca.New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCACertificate(t *testing.T) {
	tests := []struct {
		name    string
		subject pkix.Name
		wantC   []string
		wantO   []string
	}{
		{name: "default subject", wantC: []string{"US"}, wantO: []string{"SPIFFE"}},
		{name: "configured subject", subject: pkix.Name{Country: []string{"DE"}, Organization: []string{"Acme"}}, wantC: []string{"DE"}, wantO: []string{"Acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := testConfig(clock)
			cfg.Subject = tt.subject
			cfg.CATTL = 48 * time.Hour
			m := newManager(t, cfg)
			c := m.Bundle().X509Authorities()[0]

			if !c.IsCA || !c.BasicConstraintsValid {
				t.Error("authority is not a CA certificate")
			}
			wantKU := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
			if c.KeyUsage != wantKU {
				t.Errorf("key usage = %b, want %b", c.KeyUsage, wantKU)
			}
			if len(c.URIs) != 1 || c.URIs[0].String() != "spiffe://example.org" {
				t.Errorf("URI SANs = %v, want spiffe://example.org", c.URIs)
			}
			if !slices.Equal(c.Subject.Country, tt.wantC) || !slices.Equal(c.Subject.Organization, tt.wantO) {
				t.Errorf("subject = %s", c.Subject)
			}
			if c.Subject.SerialNumber != c.SerialNumber.String() {
				t.Errorf("subject serialNumber = %q, want the certificate serial %s", c.Subject.SerialNumber, c.SerialNumber)
			}
			if c.SerialNumber.BitLen() > 128 || c.SerialNumber.Sign() <= 0 {
				t.Errorf("serial %s is not a positive 128-bit number", c.SerialNumber)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("CA is not self-signed: %v", err)
			}
			if got := c.NotAfter.Sub(clock.Now()); got != cfg.CATTL {
				t.Errorf("CA lifetime from now = %s, want %s", got, cfg.CATTL)
			}
			b := m.Bundle()
			if hint, ok := b.RefreshHint(); !ok || hint != ca.DefaultBundleRefreshHint {
				t.Errorf("refresh hint = %s (set %v), want %s", hint, ok, ca.DefaultBundleRefreshHint)
			}
		})
	}
}

func TestKeyTypes(t *testing.T) {
	tests := []struct {
		keyType string
		check   func(pub any) bool
		wantAlg jose.SignatureAlgorithm
	}{
		{keyType: "", check: isCurve(elliptic.P256()), wantAlg: jose.ES256},
		{keyType: "ec-p256", check: isCurve(elliptic.P256()), wantAlg: jose.ES256},
		{keyType: "ec-p384", check: isCurve(elliptic.P384()), wantAlg: jose.ES384},
		{keyType: "rsa-2048", check: isRSA(2048), wantAlg: jose.RS256},
	}
	for _, tt := range tests {
		t.Run("key type "+tt.keyType, func(t *testing.T) {
			cfg := testConfig(newFakeClock())
			cfg.KeyType = tt.keyType
			m := newManager(t, cfg)
			b := m.Bundle()
			if pub := b.X509Authorities()[0].PublicKey; !tt.check(pub) {
				t.Errorf("CA key is %T, not %s", pub, tt.keyType)
			}
			for kid, pub := range b.JWTAuthorities() {
				if !tt.check(pub) {
					t.Errorf("JWT key %s is %T, not %s", kid, pub, tt.keyType)
				}
			}
			leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: mustID(t, "spiffe://example.org/w")})
			if _, _, err := x509svid.Verify([]*x509.Certificate{leaf}, b); err != nil {
				t.Errorf("X509-SVID does not verify: %v", err)
			}
			token := signJWT(t, m)
			if alg := jwtHeader(t, token).Algorithm; alg != string(tt.wantAlg) {
				t.Errorf("JWT alg = %s, want %s", alg, tt.wantAlg)
			}
			if _, err := jwtsvid.ParseAndValidate(token, b, []string{"a"}); err != nil {
				t.Errorf("JWT-SVID does not verify: %v", err)
			}
		})
	}
}

func isCurve(c elliptic.Curve) func(any) bool {
	return func(pub any) bool {
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && k.Curve == c
	}
}

func isRSA(bits int) func(any) bool {
	return func(pub any) bool {
		k, ok := pub.(*rsa.PublicKey)
		return ok && k.N.BitLen() == bits
	}
}
