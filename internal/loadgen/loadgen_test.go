package loadgen_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/loadgen"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// TestRunCountsAreTrue runs a small load (20 agents x 2 entries, probes,
// churn and one rotation) against a real server and checks the report
// against the server's own state: every agent (and the prober process's
// two probe agents) attested once, every entry is still there and every
// probe entry gone, and the SVIDs the servers say they signed are the
// SVIDs the simulated workloads and the prober's workloads received.
func TestRunCountsAreTrue(t *testing.T) {
	const agents, entries = 20, 2
	port := testenv.FreePort(t)
	srv := testenv.StartServer(t, testenv.Options{HealthPort: port, ServerConfig: func(c *config.Server) {
		c.RateLimitAttestation = false
	}})
	rep, err := loadgen.Run(t.Context(), loadgen.Config{
		TrustDomain:     srv.Layout.TrustDomain,
		Servers:         []loadgen.Target{{Name: "a", Address: srv.TCPAddr, AdminSocket: srv.Layout.AdminSocket, MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), PID: os.Getpid()}},
		Agents:          agents,
		EntriesPerAgent: entries,
		X509SVIDTTL:     8 * time.Second,
		Phase:           time.Second,
		ProbeRate:       5,
		ChurnRate:       20,
		Rotation:        true,
		DataDir:         t.TempDir(),
		// Two probe agents, so that each probe picks one.
		ProbeAgentsPerServer: 2,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var out strings.Builder
	rep.Write(&out)
	t.Log("\n" + out.String())

	store := srv.OpenStore(t)
	nodes, err := store.ListAgents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.CountEntries(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	agentSigned := rep.Setup.AgentSigned + rep.Ramp.AgentSigned
	probed := 0
	for _, p := range rep.Phases {
		agentSigned += p.AgentSigned
		probed += len(p.Probes.Same)
		if p.Probes.Errors > 0 {
			t.Errorf("phase %s: %d probe errors, first: %s", p.Name, p.Probes.Errors, p.Probes.FirstError)
		}
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"attestations reported", float64(rep.Attestations), agents},
		{"probe agents reported", float64(rep.ProbeAgents), 2},
		{"agents in the store (probe agents included)", float64(len(nodes)), agents + 2},
		{"agent SVIDs signed (probe agents included)", agentSigned, agents + 2},
		{"entries in the store (probe entries deleted)", float64(stored), agents * entries},
		{"agents rotated", float64(rep.Rotated), agents},
		{"agents failed", float64(rep.FailedAgents), 0},
		{"X.509-SVIDs received vs signed", float64(rep.SVIDsReceived), rep.X509Signed()},
		{"datastore calls of the setup at least tokens + entry batch", min(rep.Setup.DatastoreCalls, agents+1), agents + 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// Each workload got its entries' SVIDs, then each rotated once; each
	// probe one more.
	if min := float64(2*agents*entries + probed); rep.X509Signed() < min {
		t.Errorf("X.509-SVIDs signed = %v, want at least %v (2 per entry and 1 per probe)", rep.X509Signed(), min)
	}
	if probed == 0 {
		t.Error("no probe succeeded")
	}
}
