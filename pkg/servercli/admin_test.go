package servercli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"github.com/svidkit/svidkit/pkg/servercli"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

func TestTokenGenerate(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		want       *agentv1.CreateJoinTokenRequest
		wantStderr string
	}{
		{"with SPIFFE ID", []string{"-spiffeID", "spiffe://example.org/node1", "-ttl", "3600"},
			&agentv1.CreateJoinTokenRequest{Ttl: 3600, AgentId: id("example.org", "/node1")}, ""},
		{"defaults", nil, &agentv1.CreateJoinTokenRequest{Ttl: 600}, "Warning: Missing SPIFFE ID."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, sock := startFake(t, nil)
			code, out, errOut := run(t, servercli.Options{}, append([]string{"token", "generate", "-socketPath", sock}, tc.args...)...)
			if code != 0 || out != "Token: 2f5c1a8e-token\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			if got := fake.last("CreateJoinToken"); !proto.Equal(got, tc.want) {
				t.Errorf("request %v, want %v", got, tc.want)
			}
			if !strings.Contains(errOut, tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", errOut, tc.wantStderr)
			}
		})
	}
	t.Run("bad ttl", func(t *testing.T) {
		_, sock := startFake(t, nil)
		code, _, errOut := run(t, servercli.Options{}, "token", "generate", "-socketPath", sock, "-ttl", "0")
		if code != 1 || !strings.Contains(errOut, "-ttl must be positive") {
			t.Errorf("exit %d stderr %q", code, errOut)
		}
	})
}

func testBundle(t *testing.T) (*types.Bundle, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"SPIFFE"}},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: "example.org"}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &types.Bundle{
		TrustDomain:     "example.org",
		X509Authorities: []*types.X509Certificate{{Asn1: der}},
		JwtAuthorities:  []*types.JWTKey{{PublicKey: pub, KeyId: "kid1"}},
		RefreshHint:     300,
		SequenceNumber:  7,
	}, cert
}

func TestBundleShow(t *testing.T) {
	b, cert := testBundle(t)
	seed := func(f *fakeAdmin) { f.bundle = b }
	t.Run("pem", func(t *testing.T) {
		_, sock := startFake(t, seed)
		code, out, errOut := run(t, servercli.Options{}, "bundle", "show", "-socketPath", sock)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		block, rest := pem.Decode([]byte(out))
		if block == nil || block.Type != "CERTIFICATE" || !cert.Equal(mustParse(t, block.Bytes)) || len(strings.TrimSpace(string(rest))) != 0 {
			t.Errorf("output is not exactly the CA certificate in PEM:\n%s", out)
		}
	})
	t.Run("spiffe", func(t *testing.T) {
		_, sock := startFake(t, seed)
		code, out, errOut := run(t, servercli.Options{}, "bundle", "show", "-socketPath", sock, "-format", "spiffe")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		got, err := spiffebundle.Parse(spiffeid.RequireTrustDomainFromString("example.org"), []byte(out))
		if err != nil {
			t.Fatalf("output is not a SPIFFE bundle: %v\n%s", err, out)
		}
		seq, _ := got.SequenceNumber()
		hint, _ := got.RefreshHint()
		if len(got.X509Authorities()) != 1 || !got.HasJWTAuthority("kid1") || seq != 7 || hint != 5*time.Minute {
			t.Errorf("parsed bundle: %d X.509 authorities, kid1 %v, seq %d, hint %v", len(got.X509Authorities()),
				got.HasJWTAuthority("kid1"), seq, hint)
		}
	})
	t.Run("bad format", func(t *testing.T) {
		_, sock := startFake(t, seed)
		code, _, errOut := run(t, servercli.Options{}, "bundle", "show", "-socketPath", sock, "-format", "der")
		if code != 1 || !strings.Contains(errOut, `invalid -format "der"`) {
			t.Errorf("exit %d stderr %q", code, errOut)
		}
	})
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAgentCommands(t *testing.T) {
	agent := &types.Agent{
		Id: id("example.org", "/spire/agent/join_token/abc"), AttestationType: "join_token",
		X509SvidSerialNumber: "1234", X509SvidExpiresAt: 1700000000,
		Selectors: []*types.Selector{{Type: "join_token", Value: "abc"}},
	}
	seed := func(f *fakeAdmin) { f.agents = []*types.Agent{agent} }
	agentID := "spiffe://example.org/spire/agent/join_token/abc"
	tests := []struct {
		name      string
		args      []string
		method    string
		wantReq   proto.Message
		wantOut   []string
		wantCode  int
		wantError string
	}{
		{name: "list", args: []string{"agent", "list", "-attestationType", "join_token", "-selector", "join_token:abc"},
			method: "ListAgents",
			wantReq: &agentv1.ListAgentsRequest{Filter: &agentv1.ListAgentsRequest_Filter{ByAttestationType: "join_token",
				BySelectorMatch: &types.SelectorMatch{Selectors: []*types.Selector{{Type: "join_token", Value: "abc"}},
					Match: types.SelectorMatch_MATCH_SUPERSET}}},
			wantOut: []string{"Found 1 attested agent:\n\n", "SPIFFE ID         : " + agentID + "\n",
				"Attestation type  : join_token\n", "Serial number     : 1234\n",
				"Expiration time   : 2023-11-14 22:13:20 +0000 UTC\n", "Selector          : join_token:abc\n"}},
		{name: "show", args: []string{"agent", "show", "-spiffeID", agentID}, method: "GetAgent",
			wantReq: &agentv1.GetAgentRequest{Id: agent.Id},
			wantOut: []string{"Found an attested agent given its SPIFFE ID\n", "SPIFFE ID         : " + agentID + "\n"}},
		{name: "ban", args: []string{"agent", "ban", "-spiffeID", agentID}, method: "BanAgent",
			wantReq: &agentv1.BanAgentRequest{Id: agent.Id}, wantOut: []string{"Agent banned successfully\n"}},
		{name: "evict", args: []string{"agent", "evict", "-spiffeID", agentID}, method: "DeleteAgent",
			wantReq: &agentv1.DeleteAgentRequest{Id: agent.Id}, wantOut: []string{"Agent evicted successfully\n"}},
		{name: "ban without spiffeID", args: []string{"agent", "ban"}, wantCode: 1, wantError: "Error: -spiffeID is required"},
		{name: "evict bad spiffeID", args: []string{"agent", "evict", "-spiffeID", "nope"}, wantCode: 1,
			wantError: `Error: invalid -spiffeID "nope"`},
		{name: "show unknown agent", args: []string{"agent", "show", "-spiffeID", "spiffe://example.org/x"}, method: "GetAgent",
			wantReq: &agentv1.GetAgentRequest{Id: id("example.org", "/x")}, wantCode: 1, wantError: "NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, sock := startFake(t, seed)
			code, out, errOut := run(t, servercli.Options{}, append(tc.args, "-socketPath", sock)...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantError) {
				t.Fatalf("exit %d stderr %q; want %d and %q", code, errOut, tc.wantCode, tc.wantError)
			}
			if tc.method != "" {
				if got := fake.last(tc.method); !proto.Equal(got, tc.wantReq) {
					t.Errorf("%s request %v, want %v", tc.method, got, tc.wantReq)
				}
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("list empty", func(t *testing.T) {
		_, sock := startFake(t, nil)
		code, out, _ := run(t, servercli.Options{}, "agent", "list", "-socketPath", sock)
		if code != 0 || out != "No attested agents found\n" {
			t.Errorf("exit %d stdout %q", code, out)
		}
	})
}

func TestHealthcheck(t *testing.T) {
	tests := []struct {
		name     string
		status   healthpb.HealthCheckResponse_ServingStatus
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"serving", healthpb.HealthCheckResponse_SERVING, nil, 0, "Server is healthy.\n", ""},
		{"not serving", healthpb.HealthCheckResponse_NOT_SERVING, nil, 1, "", "server is unhealthy: status NOT_SERVING"},
		{"not serving but shallow", healthpb.HealthCheckResponse_NOT_SERVING, []string{"-shallow"}, 0, "Server is healthy.\n", ""},
		{"verbose", healthpb.HealthCheckResponse_SERVING, []string{"-verbose"}, 0, "Checking server health...\nServer is healthy.\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, sock := startFake(t, nil)
			fake.health.SetServingStatus("", tc.status)
			code, out, errOut := run(t, servercli.Options{}, append([]string{"healthcheck", "-socketPath", sock}, tc.args...)...)
			if code != tc.wantCode || out != tc.wantOut || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d stdout %q stderr %q; want %d %q %q", code, out, errOut, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
	t.Run("no server", func(t *testing.T) {
		code, _, errOut := run(t, servercli.Options{}, "healthcheck", "-socketPath", t.TempDir()+"/x.sock")
		if code != 1 || !strings.Contains(errOut, "server is unhealthy: unable to determine health") {
			t.Errorf("exit %d stderr %q", code, errOut)
		}
	})
}
