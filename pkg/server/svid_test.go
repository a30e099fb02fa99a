package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMintX509SVID(t *testing.T) {
	e := newEnv(t)
	client := svidv1.NewSVIDClient(e.admin)
	key, csr := newKeyCSR(t, "spiffe://example.org/minted")
	resp, err := client.MintX509SVID(context.Background(), &svidv1.MintX509SVIDRequest{Csr: csr, Ttl: 120})
	if err != nil {
		t.Fatalf("MintX509SVID: %v", err)
	}
	svid := svidFrom(t, resp.Svid, key)
	if svid.ID.String() != "spiffe://example.org/minted" {
		t.Fatalf("ID = %q", svid.ID)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, e.ca.Bundle()); err != nil {
		t.Fatal(err)
	}
	if ttl := time.Until(svid.Certificates[0].NotAfter); ttl > 2*time.Minute {
		t.Fatalf("TTL %v exceeds the requested 120s", ttl)
	}

	_, noURI := newKeyCSR(t)
	_, twoURIs := newKeyCSR(t, "spiffe://example.org/a", "spiffe://example.org/b")
	_, foreign := newKeyCSR(t, "spiffe://other.org/a")
	_, notSPIFFE := newKeyCSR(t, "https://example.org/a")
	tests := []struct {
		name string
		req  *svidv1.MintX509SVIDRequest
		msg  string
	}{
		{"missing CSR", &svidv1.MintX509SVIDRequest{}, "csr: is required"},
		{"garbage CSR", &svidv1.MintX509SVIDRequest{Csr: []byte("junk")}, "csr: malformed"},
		{"no URI SAN", &svidv1.MintX509SVIDRequest{Csr: noURI}, "exactly one URI SAN"},
		{"two URI SANs", &svidv1.MintX509SVIDRequest{Csr: twoURIs}, "exactly one URI SAN"},
		{"foreign trust domain", &svidv1.MintX509SVIDRequest{Csr: foreign}, "not a member"},
		{"not a SPIFFE ID", &svidv1.MintX509SVIDRequest{Csr: notSPIFFE}, "not a valid SPIFFE ID"},
		{"negative ttl", &svidv1.MintX509SVIDRequest{Csr: csr, Ttl: -1}, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.MintX509SVID(context.Background(), tt.req)
			wantCode(t, err, codes.InvalidArgument)
			if !strings.Contains(status.Convert(err).Message(), tt.msg) {
				t.Fatalf("message %q does not contain %q", status.Convert(err).Message(), tt.msg)
			}
		})
	}
}

func TestMintJWTSVID(t *testing.T) {
	e := newEnv(t)
	client := svidv1.NewSVIDClient(e.admin)
	resp, err := client.MintJWTSVID(context.Background(), &svidv1.MintJWTSVIDRequest{Id: pid("/jwt"), Audience: []string{"aud1"}, Ttl: 60})
	if err != nil {
		t.Fatalf("MintJWTSVID: %v", err)
	}
	tok, err := jwt.ParseSigned(resp.Svid.Token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := tok.Claims(e.ca.JWTPublicKey(), &claims); err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if claims.Subject != "spiffe://example.org/jwt" || resp.Svid.ExpiresAt != claims.Expiry.Time().Unix() {
		t.Fatalf("claims %+v, svid %v", claims, resp.Svid)
	}
	tests := []struct {
		name string
		req  *svidv1.MintJWTSVIDRequest
		msg  string
	}{
		{"missing id", &svidv1.MintJWTSVIDRequest{Audience: []string{"a"}}, "id: is required"},
		{"foreign id", &svidv1.MintJWTSVIDRequest{Id: &types.SPIFFEID{TrustDomain: "other.org", Path: "/x"}, Audience: []string{"a"}}, "not a member"},
		{"no audience", &svidv1.MintJWTSVIDRequest{Id: pid("/x")}, "audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.MintJWTSVID(context.Background(), tt.req)
			wantCode(t, err, codes.InvalidArgument)
			if !strings.Contains(status.Convert(err).Message(), tt.msg) {
				t.Fatalf("message %q does not contain %q", status.Convert(err).Message(), tt.msg)
			}
		})
	}
}
