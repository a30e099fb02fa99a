package e2e_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/benchmetric"
)

// failoverTTL is the X.509-SVID lifetime of the failover tests' entries:
// agents rotate at half life, so every SVID rotates several times during
// a test, and the outage of a killed server overlaps rotations.
const failoverTTL = 20 * time.Second

// TestAgentsFailOverWhenServerKilled: two server processes on one
// PostgreSQL database behind one DNS name, three agent processes, a
// go-spiffe workload watching each. Both servers get load. While entries
// are being created, one server and then the other is killed with SIGKILL
// and started again once every agent rotated an SVID through the
// survivor: every entry reaches its agent's workload, no workload sees a
// watch or fetch error, no SVID is held past its expiry, and the restarted
// server is used again. The failover times (kill to each agent
// serving an entry created through the surviving server) are logged.
func TestAgentsFailOverWhenServerKilled(t *testing.T) {
	c := startFailoverCluster(t, pg.NewDatabase(t), 3)
	lat := runFailover(t, c, 2)
	t.Logf("failover (kill -9 to agent synced through the other server) over %d agent-kills: p50 %v, max %v",
		len(lat), lat.Quantile(0.5), lat.Quantile(1))
}

// BenchmarkServerFailover measures the failover time of agents: from a
// server's kill -9 to each of three agents serving its workload an entry
// created through the surviving server, over six kills (alternating
// between two servers on one PostgreSQL database), with entries being
// created and SVIDs (20 s lifetime) rotating throughout. It ignores b.N.
func BenchmarkServerFailover(b *testing.B) {
	c := startFailoverCluster(b, pg.NewDatabase(b), 3)
	b.ResetTimer()
	lat := runFailover(b, c, 6)
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	lat.Report(b, "failover-", true)
}

// runFailover runs the churn and the given number of kill -9 and restart
// cycles on c, alternating the victim, checks what the workloads saw, and
// returns the failover time of every agent in every cycle.
func runFailover(tb testing.TB, c *failoverCluster, cycles int) benchmetric.Latencies {
	tb.Helper()
	monitors := make([]*svidMonitor, len(c.agents))
	for i, a := range c.agents {
		monitors[i] = a.monitor
	}
	stopChecks := checkWorkloads(monitors, 250*time.Millisecond)
	churn, stopChurn := runChurn(c, c.servers[1], failoverTTL, 150*time.Millisecond)
	// round_robin spreads the agents' calls: both servers sign SVIDs.
	pollUntil(tb, 30*time.Second, 50*time.Millisecond, "both servers to sign SVIDs for the agents", func() bool {
		return c.servers[0].metric(metricX509Signed) >= 1 && c.servers[1].metric(metricX509Signed) >= 1
	})

	var lat benchmetric.Latencies
	for cycle := range cycles {
		victim := c.servers[cycle%2]
		survivor := c.other(victim)
		churn.target.Store(survivor)
		held := victim.metric(metricSyncsHeld)
		victim.kill(tb)
		killed := time.Now()
		for _, a := range c.agents {
			path := fmt.Sprintf("/probe/%d%s", cycle, a.nodePath)
			survivor.Admin().CreateEntry(tb, workloadEntryFor(a, path, failoverTTL))
		}
		for _, a := range c.agents {
			seen := a.monitor.waitSeen(tb, 30*time.Second, fmt.Sprintf("spiffe://%s/probe/%d%s", trustDomain, cycle, a.nodePath))
			lat = append(lat, seen.Sub(killed))
			tb.Logf("cycle %d: %s killed (holding %v entry syncs); %s synced through %s after %v",
				cycle, victim.name, held, a.name, survivor.name, seen.Sub(killed).Round(time.Millisecond))
		}
		// While the victim is down, every agent rotates through the
		// survivor.
		for _, a := range c.agents {
			a.monitor.waitRenewedAfter(tb, failoverTTL, baseID(a.nodePath), killed)
		}
		victim.start(tb)
		restarted := time.Now()
		pollUntil(tb, time.Minute, 50*time.Millisecond, "the agents to use the restarted "+victim.name+" again", func() bool {
			return victim.metric(metricX509Signed) >= 1 || victim.metric(metricSyncsHeld) >= 1
		})
		tb.Logf("cycle %d: %s restarted; used again after %v", cycle, victim.name, time.Since(restarted).Round(time.Millisecond))
	}

	created := stopChurn()
	for _, e := range created {
		e.agent.monitor.waitSeen(tb, 30*time.Second, e.id)
	}
	stopChecks()
	tb.Logf("%d entries created during the test reached their agents' workloads", len(created))
	for _, e := range churn.Errors() {
		tb.Errorf("churn: %s", e)
	}
	for _, a := range c.agents {
		for _, p := range a.monitor.Problems() {
			tb.Errorf("workload problem: %s", p)
		}
	}
	return lat
}
