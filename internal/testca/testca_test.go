package testca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
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
