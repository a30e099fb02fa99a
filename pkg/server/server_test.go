package server_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/svidkit/svidkit/pkg/server"
)

func TestAdminSocket(t *testing.T) {
	e := newEnv(t)
	fi, err := os.Stat(e.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o770 {
		t.Fatalf("socket mode = %v, want socket 0770", fi.Mode())
	}
	dir, err := os.Stat(filepath.Dir(e.socket))
	if err != nil {
		t.Fatal(err)
	}
	if dir.Mode().Perm() != 0o750 {
		t.Fatalf("socket dir mode = %v, want 0750", dir.Mode().Perm())
	}
	resp, err := healthpb.NewHealthClient(e.admin).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", resp, err)
	}
	if !e.srv.Ready() {
		t.Fatal("Ready() = false while serving")
	}
}

func TestStaleSocketRemoved(t *testing.T) {
	dir, err := os.MkdirTemp("", "svk")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "api.sock")
	// A socket file left behind by a crashed process.
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	lis.(*net.UnixListener).SetUnlinkOnClose(false)
	lis.Close()

	srv := newServer(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Listening():
	case err := <-done:
		t.Fatalf("Run with stale socket: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("not listening")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if srv.Ready() {
		t.Fatal("Ready() after stop")
	}
}

func TestSocketPathNotASocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := newServer(t, path).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Run = %v, want a not-a-socket error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatal("regular file at socket path was clobbered")
	}
}

func newServer(t *testing.T, socket string) *server.Server {
	t.Helper()
	e := newEnvParts(t)
	srv, err := server.New(server.Config{
		TrustDomain: td, Store: e.store, Authority: e.ca, BindAddress: "127.0.0.1:0", SocketPath: socket,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestNewValidatesConfig(t *testing.T) {
	parts := newEnvParts(t)
	valid := server.Config{TrustDomain: td, Store: parts.store, Authority: parts.ca, BindAddress: "127.0.0.1:0", SocketPath: "/tmp/x.sock"}
	tests := []struct {
		name string
		mod  func(*server.Config)
		msg  string
	}{
		{"valid", func(*server.Config) {}, ""},
		{"no trust domain", func(c *server.Config) { c.TrustDomain = spiffeid.TrustDomain{} }, "trust domain is required"},
		{"no store", func(c *server.Config) { c.Store = nil }, "store is required"},
		{"no authority", func(c *server.Config) { c.Authority = nil }, "authority is required"},
		{"bad bind address", func(c *server.Config) { c.BindAddress = "nope" }, "bind address"},
		{"no socket", func(c *server.Config) { c.SocketPath = "" }, "socket path is required"},
		{"negative ttl", func(c *server.Config) { c.AgentTTL = -time.Second }, "agent TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mod(&cfg)
			_, err := server.New(cfg)
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("New = %v, want error containing %q", err, tt.msg)
			}
		})
	}
}

func TestGetBundle(t *testing.T) {
	e := newEnv(t)
	// GetBundle works without a client certificate.
	b, err := bundlev1.NewBundleClient(e.tcpConn(nil)).GetBundle(context.Background(), &bundlev1.GetBundleRequest{})
	if err != nil {
		t.Fatalf("GetBundle: %v", err)
	}
	if b.TrustDomain != "example.org" || len(b.X509Authorities) != 1 || len(b.JwtAuthorities) != 1 {
		t.Fatalf("bundle %v", b)
	}
	if !e.ca.Root().Equal(mustParse(t, b.X509Authorities[0].Asn1)) {
		t.Fatal("x509 authority is not the CA root")
	}
	pub, err := x509.ParsePKIXPublicKey(b.JwtAuthorities[0].PublicKey)
	if err != nil || b.JwtAuthorities[0].KeyId == "" {
		t.Fatalf("jwt authority: %v", err)
	}
	if !e.ca.JWTPublicKey().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		t.Fatal("jwt authority key mismatch")
	}
	if b.RefreshHint != 300 || b.SequenceNumber != 1 {
		t.Fatalf("refresh hint %d, sequence %d", b.RefreshHint, b.SequenceNumber)
	}
}

func TestMetricsCountRPCsAndSVIDs(t *testing.T) {
	e := newEnv(t)
	e.mustAttest("metrics")
	if n := counterValue(t, e, "svidkit_server_svids_signed_total", "agent"); n != 1 {
		t.Fatalf("agent SVIDs signed = %v, want 1", n)
	}
	if n := rpcCount(t, e, "/spire.api.server.agent.v1.Agent/AttestAgent", "OK"); n != 1 {
		t.Fatalf("AttestAgent OK count = %v, want 1", n)
	}
	if n := rpcCount(t, e, "/spire.api.server.agent.v1.Agent/CreateJoinToken", "OK"); n != 1 {
		t.Fatalf("CreateJoinToken OK count = %v, want 1", n)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// counterValue returns the value of the counter series of name whose only
// label has the given value.
func counterValue(t *testing.T, e *env, name, label string) float64 {
	t.Helper()
	families, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// rpcCount returns the RPC counter for method and code.
func rpcCount(t *testing.T, e *env, method, code string) float64 {
	t.Helper()
	families, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "svidkit_server_rpcs_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
