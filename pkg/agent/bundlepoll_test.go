package agent_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agent"
)

// Shortened bundle poll periods: the agent polls every testPoll against a
// server that does not announce bundle changes and for testFollow after an
// announced change, and otherwise only every hour.
const (
	testPoll   = 50 * time.Millisecond
	testFollow = 300 * time.Millisecond
)

// TestBundlePollStopsWhileAnnounced runs the agent against the real
// server, which announces bundle changes on the held entry sync: an idle
// agent must not fetch its bundles at all (it used to every 5 s: 2,000 GetBundle
// calls per second for 10,000 idle agents). The watched window is twenty
// short poll periods; a polling agent fetches in nearly every one.
func TestBundlePollStopsWhileAnnounced(t *testing.T) {
	clk := newClock()
	srv := testenv.StartServer(t, testenv.Options{})
	web := createEntry(t, srv, "/web", "unix:uid:1000")
	reg := startPollingAgent(t, clk, realConfig(t, srv, clk, t.TempDir()), web)
	before := gathered(t, reg, "svidkit_agent_bundle_fetches_total")
	if before == 0 {
		t.Fatal("the agent never fetched its bundles")
	}
	time.Sleep(20 * testPoll)
	if got := gathered(t, reg, "svidkit_agent_bundle_fetches_total"); got != before {
		t.Errorf("idle agent fetched its bundles %v times in %v while the server announces changes, want 0", got-before, 20*testPoll)
	}
}

// TestBundlePollWithoutAnnouncements runs the agent against a server that
// never announces bundle changes (the fake server, as a SPIRE server): the
// agent must keep polling every poll period.
func TestBundlePollWithoutAnnouncements(t *testing.T) {
	clk := newClock()
	srv := newFakeServer(t, clk, fakeServerConfig{})
	srv.addToken("token", false)
	srv.setEntry("web", "/web", "unix:uid:1000")
	reg := startPollingAgent(t, clk, config(t, srv, clk, t.TempDir(), "token"), "web")
	before := gathered(t, reg, "svidkit_agent_bundle_fetches_total")
	deadline := time.Now().Add(waitTimeout)
	for gathered(t, reg, "svidkit_agent_bundle_fetches_total") < before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("agent stopped polling a server that does not announce bundle changes: %v fetches in %v",
				gathered(t, reg, "svidkit_agent_bundle_fetches_total")-before, waitTimeout)
		}
		time.Sleep(testPoll)
	}
}

// startPollingAgent starts an agent from cfg with the shortened bundle poll
// periods, waits until the workload of uid 1000 holds the SVID of entry
// and then for twice testFollow (past any short polls that follow the
// first digest), and returns the registry of the agent's metrics.
func startPollingAgent(t *testing.T, clk *testclock.Clock, cfg agent.Config, entry string) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	agent.SetBundlePoll(a, testPoll, time.Hour, testFollow)
	h := startAgent(t, clk, a)
	sub := h.subscribe("unix:uid:1000")
	waitUpdate(t, sub, "identity of entry "+entry, hasIDs(entry))
	time.Sleep(2 * testFollow)
	return reg
}
