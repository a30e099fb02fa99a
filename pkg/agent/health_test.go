package agent_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agent"
)

// stallLimit is the Live stall limit for an agent with the test configs'
// 20 ms SyncInterval: 2 × (30 s round timeout + 10 s backoff cap).
const stallLimit = 80 * time.Second

func TestLiveReadyBeforeAndAfterRun(t *testing.T) {
	clk := newClock()
	srv := testenv.StartServer(t, testenv.Options{})
	a, err := agent.New(realConfig(t, srv, clk, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Live() || a.Ready() {
		t.Fatalf("before Run: live %v ready %v, want live, not ready", a.Live(), a.Ready())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	eventually(t, "ready", a.Ready)
	if !a.Live() {
		t.Fatal("ready agent is not live")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after cancel")
	}
	if a.Live() {
		t.Fatal("live after Run returned")
	}
}

// TestLiveWhenSVIDExpiredAndReattestationFails shows the wedged state a
// liveness probe must catch: the agent SVID expired and the server keeps
// rejecting the (rotated) token. Live and Ready go false and stay false
// while attempts keep failing, and recover once attestation succeeds.
// It keeps the fake server, whose fault is a k8s_psat attestor that rejects
// the token until told otherwise.
func TestLiveWhenSVIDExpiredAndReattestationFails(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{agentTTL: time.Hour})
	srv.addPSATToken("token-1", "node-1")
	srv.setEntry("web", "/web", "unix:uid:1000")
	tokenPath := filepath.Join(t.TempDir(), "spire-agent")
	writeToken(t, tokenPath, "token-1")
	h := start(t, clk, psatConfig(t, srv, clk, t.TempDir(), tokenPath))
	h.waitAttested()
	eventually(t, "ready", h.agent.Ready)
	if !h.agent.Live() {
		t.Fatal("ready agent is not live")
	}

	// The node slept past the SVID's expiry; the token it has now is one
	// the server rejects.
	writeToken(t, tokenPath, "token-unknown")
	clk.Add(2 * time.Hour)
	eventually(t, "not live", func() bool { return !h.agent.Live() })
	if h.agent.Ready() {
		t.Error("agent with an expired SVID is ready")
	}
	// Attempts go on, and fail: the agent stays not live.
	n := len(srv.attestations())
	eventually(t, "two more failed attempts", func() bool { return len(srv.attestations()) >= n+2 })
	if h.agent.Live() {
		t.Fatal("agent live although its SVID expired and re-attestation keeps failing")
	}

	srv.addPSATToken("token-unknown", "node-1")
	eventually(t, "live again after re-attestation", h.agent.Live)
	eventually(t, "ready again after re-attestation", h.agent.Ready)
}

// TestLiveWhenLoopStalls shows that a main loop stuck on a call that does
// not return stops being live once the stall limit passes, and is live
// again when the call returns. It keeps the fake server, whose fault is a
// BatchNewX509SVID call held until the test releases it.
func TestLiveWhenLoopStalls(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{})
	srv.addToken("token", false)
	srv.setEntry("web", "/web", "unix:uid:1000")
	h := start(t, clk, config(t, srv, clk, t.TempDir(), "token"))
	h.waitAttested()
	sub := h.subscribe("unix:uid:1000")
	waitUpdate(t, sub, "web identity", hasIDs("web"))
	eventually(t, "ready", h.agent.Ready)

	held, release := srv.holdMinting()
	t.Cleanup(release)
	srv.setEntry("db", "/db", "unix:uid:1000")
	select {
	case <-held: // the main loop now waits on BatchNewX509SVID
	case <-time.After(waitTimeout):
		t.Fatal("minting never reached the server")
	}
	clk.Add(stallLimit - time.Second)
	if !h.agent.Live() {
		t.Fatal("not live before the stall limit")
	}
	clk.Add(2 * time.Second)
	if h.agent.Live() {
		t.Fatal("live although the main loop has not completed a round for longer than the stall limit")
	}
	if !h.agent.Ready() {
		t.Error("a stalled agent with a valid SVID stopped being ready")
	}
	release()
	waitUpdate(t, sub, "db once minting resumes", hasIDs("db", "web"))
	eventually(t, "live again", h.agent.Live)
}
