package agent_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestJoinTokenAttestationRetriedAfterTimeout: an attempt that ended
// without the server's answer (timed out under load, connection lost) is
// retried with the same join token, which the server did not spend for an
// agent no longer waiting. The fake server injects the failed attempts;
// the server's side is TestAttestationAbandonedByAgentKeepsJoinToken in
// pkg/server.
func TestJoinTokenAttestationRetriedAfterTimeout(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{agentTTL: time.Hour})
	srv.addToken("tok", false)
	srv.mu.Lock()
	srv.attestErrs = []error{
		status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
		status.Error(codes.Unavailable, "connection reset"),
	}
	srv.mu.Unlock()

	h := start(t, clk, config(t, srv, clk, t.TempDir(), "tok"))
	h.waitAttested()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.attestData) != 3 {
		t.Fatalf("attestations = %d, want 3 (two failed attempts, then success)", len(srv.attestData))
	}
	for i, d := range srv.attestData {
		if string(d.GetPayload()) != "tok" {
			t.Errorf("attempt %d sent token %q, want the configured one", i, d.GetPayload())
		}
	}
}
