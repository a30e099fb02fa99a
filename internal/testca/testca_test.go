package testca_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/ca"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

func TestSignX509SVID(t *testing.T) {
	c, err := testca.New(td, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := testca.NewKey(t)
	id := spiffeid.RequireFromPath(td, "/wl")
	tests := []struct {
		name    string
		params  ca.X509SVIDParams
		wantErr bool
	}{
		{name: "ok", params: ca.X509SVIDParams{SPIFFEID: id, PublicKey: key.Public(), TTL: time.Minute, DNSNames: []string{"wl.example.org"}}},
		{name: "foreign id", params: ca.X509SVIDParams{SPIFFEID: spiffeid.RequireFromString("spiffe://other.org/x"), PublicKey: key.Public()}, wantErr: true},
		{name: "no key", params: ca.X509SVIDParams{SPIFFEID: id}, wantErr: true},
		{name: "no id", params: ca.X509SVIDParams{PublicKey: key.Public()}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := c.SignX509SVID(context.Background(), tt.params)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := x509svid.Verify(chain, c.Bundle())
			if err != nil || got != id {
				t.Fatalf("verify: %v, %v", got, err)
			}
			if chain[0].Subject.CommonName != "wl.example.org" {
				t.Fatalf("CN = %q", chain[0].Subject.CommonName)
			}
		})
	}
}

func TestSignJWTSVID(t *testing.T) {
	c, err := testca.New(td, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.SignJWTSVID(context.Background(), ca.JWTSVIDParams{SPIFFEID: spiffeid.RequireFromPath(td, "/wl"), Audience: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := parsed.Claims(c.JWTPublicKey(), &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "spiffe://example.org/wl" {
		t.Fatalf("sub = %q", claims.Subject)
	}
	if _, err := c.SignJWTSVID(context.Background(), ca.JWTSVIDParams{SPIFFEID: spiffeid.RequireFromPath(td, "/wl")}); err == nil {
		t.Fatal("missing audience accepted")
	}
}

func TestNewX509SVID(t *testing.T) {
	c := testca.NewForTest(t, "example.org")
	id := spiffeid.RequireFromPath(td, "/wl")
	s := c.NewX509SVID(t, id)
	got, _, err := x509svid.Verify(s.Certificates, c.Bundle())
	if err != nil || got != id {
		t.Fatalf("verify: %v, %v", got, err)
	}
	if _, _, err := s.Marshal(); err != nil {
		t.Fatalf("key does not match the leaf: %v", err)
	}
}

func TestRotateJWTKey(t *testing.T) {
	c := testca.NewForTest(t, "example.org")
	first := c.JWTKeyID()
	second, err := c.RotateJWTKey()
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatalf("key ID %q unchanged by rotation", second)
	}
	b := c.Bundle()
	if !b.HasJWTAuthority(second) || b.HasJWTAuthority(first) {
		t.Fatalf("bundle JWT authorities %v, want only %q", b.JWTAuthorities(), second)
	}
	tok, err := c.SignJWTSVID(context.Background(), ca.JWTSVIDParams{SPIFFEID: spiffeid.RequireFromPath(td, "/wl"), Audience: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := parsed.Headers[0].KeyID; kid != second {
		t.Fatalf("token kid %q, want %q", kid, second)
	}
	var claims jwt.Claims
	if err := parsed.Claims(c.JWTPublicKey(), &claims); err != nil {
		t.Fatalf("token does not verify with the rotated key: %v", err)
	}
}

func TestMintX509SVID(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c, err := testca.New(td, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	id := spiffeid.RequireFromPath(td, "/wl")
	tests := []struct {
		name   string
		ca     *testca.CA
		opts   testca.SVIDOptions
		verify bool // verifies against the bundle at the CA's now
		chain  int  // certificates in the chain
		check  func(*testing.T, *x509svid.SVID)
	}{
		{name: "defaults", ca: c, verify: true, chain: 1, check: func(t *testing.T, s *x509svid.SVID) {
			if got := s.Certificates[0].NotAfter; !got.Equal(now.Add(testca.DefaultTTL)) {
				t.Errorf("NotAfter = %v, want now + DefaultTTL", got)
			}
		}},
		{name: "RSA key", ca: c, opts: testca.SVIDOptions{Key: rsaKey}, verify: true, chain: 1, check: func(t *testing.T, s *x509svid.SVID) {
			if _, ok := s.PrivateKey.(*rsa.PrivateKey); !ok || !rsaKey.PublicKey.Equal(s.Certificates[0].PublicKey) {
				t.Error("SVID does not carry the RSA key")
			}
		}},
		{name: "expired", ca: c, opts: testca.SVIDOptions{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)}, chain: 1},
		{name: "serial", ca: c, opts: testca.SVIDOptions{Serial: big.NewInt(42)}, verify: true, chain: 1, check: func(t *testing.T, s *x509svid.SVID) {
			if got := s.Certificates[0].SerialNumber; got.Int64() != 42 {
				t.Errorf("serial = %v, want 42", got)
			}
		}},
		{name: "through two intermediates", ca: c.NewIntermediate(t).NewIntermediate(t), verify: true, chain: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.ca.MintX509SVID(t, id, tt.opts)
			if len(s.Certificates) != tt.chain {
				t.Fatalf("chain of %d certificates, want %d", len(s.Certificates), tt.chain)
			}
			if _, _, err := s.Marshal(); err != nil {
				t.Fatalf("key does not match the leaf: %v", err)
			}
			_, _, err := x509svid.Verify(s.Certificates, tt.ca.Bundle(), x509svid.WithTime(now))
			if tt.verify && err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !tt.verify && err == nil {
				t.Fatal("verifies, want it refused")
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}
