package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// idleWindow is how long BenchmarkIdleSyncRate watches idle agents: over
// two of the agent's default sync waits (25 s), so that every agent's held
// sync ends at least twice.
const idleWindow = 60 * time.Second

// idleAgents is how many agents BenchmarkIdleSyncRate runs.
const idleAgents = 4

// BenchmarkIdleSyncRate measures the traffic idle agents cost the server:
// with nothing changing, each agent's entry sync is held by the server and
// renewed once per sync wait (25 s), so the rate should be about 0.04
// syncs per second per agent, against 5 per second when agents polled
// every 200 ms. It reports, per agent and second over idleWindow: entry
// syncs as counted by the agents (syncs/s/agent), SyncAuthorizedEntries
// calls as counted by the server (server-syncs/s/agent), held syncs that
// ended by timeout (held-timeouts/s/agent) and all agent RPCs the server
// answered (rpcs/s/agent, which include the agents' bundle refreshes).
//
// It runs for over a minute and ignores b.N.
func BenchmarkIdleSyncRate(b *testing.B) {
	healthPort := testenv.FreePort(b)
	e := startServer(b, testenv.Options{HealthPort: healthPort})
	serverMetrics := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(healthPort)) + "/metrics"
	var agentMetrics []string
	for i := range idleAgents {
		name := fmt.Sprintf("idle%d", i)
		node := "/node-" + name
		e.CreateEntry(b, workloadEntry(node, "/wl-"+name, 0))
		cfg := e.AgentConfig(b, name, e.JoinToken(b, node))
		port := testenv.FreePort(b)
		cfg.Telemetry = config.Telemetry{PrometheusEnabled: true, PrometheusHost: "127.0.0.1", PrometheusPort: port}
		p := e.StartAgentWith(b, name, cfg)
		waitSynced(b, p, 1, 30*time.Second)
		agentMetrics = append(agentMetrics, "http://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(port))+"/metrics")
	}

	agentSyncs := func() float64 {
		var n float64
		for _, u := range agentMetrics {
			n += scrape(b, u, "svidkit_agent_entry_syncs_total", "")
		}
		return n
	}
	serverSyncs := func() float64 {
		return scrape(b, serverMetrics, "svidkit_server_rpcs_total", `method="/spire.api.server.entry.v1.Entry/SyncAuthorizedEntries"`)
	}
	timeouts := func() float64 {
		return scrape(b, serverMetrics, "svidkit_server_entry_sync_holds_total", `result="timeout"`)
	}
	rpcs := func() float64 {
		return scrape(b, serverMetrics, "svidkit_server_rpcs_total", `method="/spire.api.server.`)
	}

	b.ResetTimer()
	a0, s0, t0, r0 := agentSyncs(), serverSyncs(), timeouts(), rpcs()
	start := time.Now()
	time.Sleep(idleWindow) // measuring a rate over a fixed window, not waiting for an event
	elapsed := time.Since(start).Seconds()
	a1, s1, t1, r1 := agentSyncs(), serverSyncs(), timeouts(), rpcs()
	b.StopTimer()

	per := func(d float64) float64 { return d / elapsed / idleAgents }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(per(a1-a0), "syncs/s/agent")
	b.ReportMetric(per(s1-s0), "server-syncs/s/agent")
	b.ReportMetric(per(t1-t0), "held-timeouts/s/agent")
	b.ReportMetric(per(r1-r0), "rpcs/s/agent")
}

// scrape sums the samples of metric name whose labels contain match.
func scrape(tb testing.TB, url, name, match string) float64 {
	tb.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		tb.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || !strings.Contains(line, match) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // a longer metric name with this prefix
		}
		fields := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			tb.Fatalf("scrape %s: %q: %v", url, line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		tb.Fatalf("scrape %s: %v", url, err)
	}
	return sum
}
