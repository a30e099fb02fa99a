package agent_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
)

// TestFailedReattestationKeepsMinting shows that a re-attestation that
// fails at half life (the server cannot review the token, e.g. while the
// kube-apiserver is down) does not stop workload SVID rotation while the
// agent's own SVID is still valid: the agent keeps minting with it, as
// SPIRE's agent, whose rotator re-attests apart from the sync, does.
// It keeps the fake server, whose fault is a k8s_psat attestor that starts
// refusing the token.
func TestFailedReattestationKeepsMinting(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{agentTTL: time.Hour}) // workload SVIDs live an hour too
	srv.addPSATToken("token-1", "node-1")
	srv.setEntry("web", "/web", "unix:uid:1000")
	tokenPath := filepath.Join(t.TempDir(), "spire-agent")
	writeToken(t, tokenPath, "token-1")
	h := start(t, clk, psatConfig(t, srv, clk, t.TempDir(), tokenPath))
	h.waitAttested()
	sub := h.subscribe("unix:uid:1000")
	first := serialOf(waitUpdate(t, sub, "web identity", hasIDs("web")), "web")

	// Re-attestation is refused from now on.
	srv.removePSATToken("token-1")
	n := len(srv.attestations())
	clk.Add(31 * time.Minute) // past half life of the agent and the web SVID
	eventually(t, "a failed re-attestation", func() bool { return len(srv.attestations()) > n })
	waitUpdate(t, sub, "web SVID rotated although re-attestation fails", func(u *workloadapi.Update) bool {
		s := serialOf(u, "web")
		return s != nil && s.Cmp(first) != 0
	})
}
