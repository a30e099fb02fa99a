package agent_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/agent"
)

// psatConfig returns an agent config attesting with k8s_psat for cluster
// "demo" from the token file at tokenPath.
func psatConfig(t testing.TB, srv *fakeServer, clk *testclock.Clock, dataDir, tokenPath string) agent.Config {
	cfg := config(t, srv, clk, dataDir, "")
	cfg.NodeAttestor = agent.K8sPSAT{Cluster: "demo", TokenPath: tokenPath}
	return cfg
}

// writeToken replaces the projected token file the way the kubelet does:
// a new file renamed over the old one. The trailing newline must be
// trimmed by the attestor.
func writeToken(t testing.TB, path, token string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// psatTokens returns the tokens of the k8s_psat attestations received, in
// order, checking that each payload is SPIRE's JSON for cluster "demo".
func psatTokens(t testing.TB, srv *fakeServer) []string {
	t.Helper()
	var out []string
	for i, d := range srv.attestations() {
		if d.GetType() != "k8s_psat" {
			t.Fatalf("attestation %d has type %q, want k8s_psat", i, d.GetType())
		}
		var payload map[string]string
		if err := json.Unmarshal(d.GetPayload(), &payload); err != nil {
			t.Fatalf("attestation %d payload %q: %v", i, d.GetPayload(), err)
		}
		if len(payload) != 2 || payload["cluster"] != "demo" || payload["token"] == "" {
			t.Fatalf("attestation %d payload = %q, want exactly cluster and token", i, d.GetPayload())
		}
		out = append(out, payload["token"])
	}
	return out
}

// hasAgent reports whether the server knows the agent ID path.
func (s *fakeServer) hasAgent(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.agents[spiffeid.RequireFromPath(td, path)]
	return ok
}

// The k8s_psat tests keep the fake server: the real server's k8s_psat
// attestor asks a kube-apiserver (TokenReview) whether a token is valid, so
// a token it rejects, a rotated token, or an apiserver outage can only be
// injected through the fake, which accepts the tokens a test lists. Each
// test names the fault it injects.

// TestK8sPSATAttestation injects a token rotation (the server stops
// accepting the first token) and reads the attestation payloads the server
// received.
func TestK8sPSATAttestation(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{agentTTL: time.Hour})
	srv.addPSATToken("token-1", "node-1")
	srv.setEntry("web", "/web", "unix:uid:1000")
	tokenPath := filepath.Join(t.TempDir(), "spire-agent")
	writeToken(t, tokenPath, "token-1")

	h := start(t, clk, psatConfig(t, srv, clk, t.TempDir(), tokenPath))
	h.waitAttested()
	sub := h.subscribe("unix:uid:1000")
	waitUpdate(t, sub, "web identity", hasIDs("web"))

	t.Run("payload is SPIRE's k8s_psat JSON", func(t *testing.T) {
		got := srv.attestations()
		if len(got) != 1 {
			t.Fatalf("%d attestations, want 1", len(got))
		}
		if want := `{"cluster":"demo","token":"token-1"}`; string(got[0].GetPayload()) != want {
			t.Fatalf("payload = %s, want %s", got[0].GetPayload(), want)
		}
		if !srv.hasAgent("/spire/agent/k8s_psat/demo/node-1") {
			t.Fatal("server has no agent /spire/agent/k8s_psat/demo/node-1")
		}
	})

	t.Run("re-attests at half life with the rotated token", func(t *testing.T) {
		// The kubelet rotated the token; the old one is no longer valid.
		srv.addPSATToken("token-2", "node-1")
		srv.removePSATToken("token-1")
		writeToken(t, tokenPath, "token-2")

		clk.Add(31 * time.Minute) // past half of the agent SVID's hour
		eventually(t, "re-attestation", func() bool { a, _ := srv.counts(); return a == 2 })
		if _, renewals := srv.counts(); renewals != 0 {
			t.Fatalf("RenewAgent called %d times; a re-attestable agent must re-attest instead", renewals)
		}
		if got := psatTokens(t, srv); len(got) != 2 || got[1] != "token-2" {
			t.Fatalf("attestation tokens = %q, want [token-1 token-2]", got)
		}
		// The new SVID is used: syncing and minting still work.
		srv.setEntry("db", "/db", "unix:uid:1000")
		waitUpdate(t, sub, "db after re-attestation", hasIDs("db", "web"))
		srv.mu.Lock()
		rec := srv.agents[spiffeid.RequireFromPath(td, "/spire/agent/k8s_psat/demo/node-1")]
		inUse := rec.serial.Cmp(srv.lastSerial) == 0
		srv.mu.Unlock()
		if !inUse {
			t.Fatal("agent still presents its old SVID after re-attestation")
		}
	})
}

// TestK8sPSATTokenErrors injects a token the server rejects.
func TestK8sPSATTokenErrors(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{})
	srv.addPSATToken("token-1", "node-1")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rejected := filepath.Join(dir, "rejected")
	writeToken(t, rejected, "not-a-valid-token")
	tests := []struct {
		name      string
		tokenPath string
		want      []string
	}{
		{"missing token file", filepath.Join(dir, "missing"), []string{filepath.Join(dir, "missing"), "no such file"}},
		{"empty token file", empty, []string{empty, "is empty"}},
		{"token rejected by the server", rejected, []string{"service account token rejected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runErr(t, psatConfig(t, srv, clk, t.TempDir(), tt.tokenPath), tt.want[0])
			for _, w := range tt.want[1:] {
				if !contains(err, w) {
					t.Errorf("Run = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}

// TestK8sPSATRestart needs the fake's k8s_psat attestor, accepting the
// token it was given (the real one asks a kube-apiserver).
func TestK8sPSATRestart(t *testing.T) {
	tests := []struct {
		name string
		// offline is how long the agent is stopped.
		offline     time.Duration
		wantAttests int
	}{
		{name: "valid stored SVID is reused", offline: time.Minute, wantAttests: 1},
		{name: "expired stored SVID re-attests", offline: 2 * time.Hour, wantAttests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			srv := newFakeServer(t, clk, fakeServerConfig{agentTTL: time.Hour})
			srv.addPSATToken("token-1", "node-1")
			srv.setEntry("web", "/web", "unix:uid:1000")
			tokenPath := filepath.Join(t.TempDir(), "spire-agent")
			writeToken(t, tokenPath, "token-1")
			cfg := psatConfig(t, srv, clk, t.TempDir(), tokenPath)
			h := start(t, clk, cfg)
			h.waitAttested()
			waitUpdate(t, h.subscribe("unix:uid:1000"), "web identity", hasIDs("web"))
			h.shutdown()

			clk.Add(tt.offline)
			cfg.Registerer = prometheus.NewRegistry()
			h2 := start(t, clk, cfg)
			h2.waitAttested()
			waitUpdate(t, h2.subscribe("unix:uid:1000"), "web identity after restart", hasIDs("web"))
			if attests, _ := srv.counts(); attests != tt.wantAttests {
				t.Fatalf("attestations after restart = %d, want %d", attests, tt.wantAttests)
			}

			// Re-attestability survives the restart: at half life the
			// agent attests again rather than calling RenewAgent.
			clk.Add(31 * time.Minute)
			eventually(t, "re-attestation at half life", func() bool {
				a, _ := srv.counts()
				return a == tt.wantAttests+1
			})
			if _, renewals := srv.counts(); renewals != 0 {
				t.Fatalf("RenewAgent called %d times after restart, want 0", renewals)
			}
		})
	}
}

// TestMustReattest injects AGENT_MUST_REATTEST denials.
func TestMustReattest(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{})
	srv.addPSATToken("token-1", "node-1")
	srv.setEntry("web", "/web", "unix:uid:1000")
	tokenPath := filepath.Join(t.TempDir(), "spire-agent")
	writeToken(t, tokenPath, "token-1")
	cfg := psatConfig(t, srv, clk, t.TempDir(), tokenPath)
	lines := make(chan string, 1000)
	cfg.Log = slog.New(slog.NewTextHandler(testWriter{t: t, lines: lines}, nil))
	h := start(t, clk, cfg)
	h.waitAttested()
	sub := h.subscribe("unix:uid:1000")
	waitUpdate(t, sub, "web identity", hasIDs("web"))
	for len(lines) > 0 {
		<-lines
	}

	srv.requireReattest()
	// The reason is recognised: the agent attests again at once, without
	// first counting plain denials.
	deadline := time.After(waitTimeout)
	for attested := false; !attested; {
		select {
		case line := <-lines:
			// (A call racing with the switch to the new SVID may still
			// be denied as "not active"; that is not this reason.)
			if strings.Contains(line, "server denied") && strings.Contains(line, "must reattest") {
				t.Fatalf("AGENT_MUST_REATTEST handled as a plain denial: %s", line)
			}
			attested = strings.Contains(line, "node attested")
		case <-deadline:
			t.Fatal("no re-attestation after AGENT_MUST_REATTEST")
		}
	}
	eventually(t, "re-attestation after AGENT_MUST_REATTEST", func() bool { a, _ := srv.counts(); return a == 2 })
	srv.setEntry("db", "/db", "unix:uid:1000")
	waitUpdate(t, sub, "db after re-attestation", hasIDs("db", "web"))
	if _, renewals := srv.counts(); renewals != 0 {
		t.Fatalf("renewals = %d, want 0", renewals)
	}
}

// TestK8sPSATAttestationWaitsOutServerErrors: while the server answers
// Internal (its kube-apiserver is down) or ResourceExhausted, the agent
// retries its first attestation instead of exiting, so a DaemonSet's
// agents do not crash-loop through a control-plane upgrade. The fake
// server injects the two errors.
func TestK8sPSATAttestationWaitsOutServerErrors(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{agentTTL: time.Hour})
	srv.addPSATToken("token-1", "node-1")
	srv.mu.Lock()
	srv.attestErrs = []error{
		status.Error(codes.Internal, "failed to attest: k8s_psat: create TokenReview: connection refused"),
		status.Error(codes.ResourceExhausted, "too many attestations"),
	}
	srv.mu.Unlock()
	tokenPath := filepath.Join(t.TempDir(), "spire-agent")
	writeToken(t, tokenPath, "token-1")

	h := start(t, clk, psatConfig(t, srv, clk, t.TempDir(), tokenPath))
	h.waitAttested()
	if got := psatTokens(t, srv); len(got) != 3 {
		t.Fatalf("attestations = %d, want 3 (two refused by server errors, then success)", len(got))
	}
}
