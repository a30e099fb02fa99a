package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/config"
)

// svidCacheTTL is the X.509-SVID lifetime of the benchmark's entries: the
// agent renews each held SVID every svidCacheTTL/2, the window over which
// signatures per rotation are counted.
const svidCacheTTL = 2 * time.Minute

// svidCacheProbes is how many workload processes measure the first fetch
// of an entry whose SVID the agent does not hold.
const svidCacheProbes = 50

// BenchmarkSVIDCacheManyEntries runs the real svidkit-server and
// svidkit-agent binaries with many entries parented to the one agent (a
// node alias parenting a cluster's workloads), each with a 2-minute
// X.509-SVID lifetime, and reports for each entry count and
// x509_svid_cache_max_size (limit=all: larger than the entry count, what
// the agent did before the limit):
//
//   - fill-s: from the first entry created to the agent holding its SVIDs
//     (the limit, or all);
//   - agent-MiB, agent-anon-MiB, agent-peak-MiB: the agent's VmRSS, RssAnon
//     and VmHWM once filled and settled (server-MiB: the server's VmRSS);
//   - signed/rotation: SVIDs the server signed for the agent over one half
//     lifetime, after the fill (svidkit_agent_x509_svids_minted_total);
//   - evicted-first-fetch-p50-ms/-p99-ms: for 50 workload processes (go-spiffe
//     clients told apart by unix:path) whose entries' SVIDs the agent did
//     not hold, connect to SVID received; held-fetch-p50-ms/-p99-ms: the
//     same workloads calling again. evicted-samples says how many of the 50
//     first fetches needed a mint (the others found their SVID held).
//
// 100,000 entries take minutes to create and sync; run one size at a time
// (-bench 'SVIDCacheManyEntries/entries=10000/'). It runs once per size and
// ignores b.N.
func BenchmarkSVIDCacheManyEntries(b *testing.B) {
	bin := buildBinaries(b, "server", "agent")
	for _, tc := range []struct {
		entries int
		limit   int // 0: the default, 1,000
	}{
		{10000, 0},
		{10000, 20000},
		{30000, 0},
		{100000, 0},
	} {
		limit := "1000"
		if tc.limit != 0 {
			limit = "all"
		}
		b.Run(fmt.Sprintf("entries=%d/limit=%s", tc.entries, limit), func(b *testing.B) {
			benchSVIDCache(b, bin, tc.entries, tc.limit)
		})
	}
}

func benchSVIDCache(b *testing.B, bin string, n, limit int) {
	l := testenv.NewLayout(b, spiffeid.RequireTrustDomainFromString(trustDomain))
	serverPort := testenv.FreePort(b)
	server, admin := startServerProcess(b, l, filepath.Join(bin, "svidkit-server"), serverPort)
	healthPort := testenv.FreePort(b)
	agentProc := startAgentProcessWith(b, l, admin, filepath.Join(bin, "svidkit-agent"), serverPort, healthPort,
		func(cfg *config.Agent) { cfg.X509SVIDCacheMaxSize = limit })
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", healthPort)
	pollUntil(b, 30*time.Second, 50*time.Millisecond, "the agent to be ready", func() bool {
		_, err := os.Stat(l.AgentSocket(processAgent))
		return err == nil && httpOK(fmt.Sprintf("http://127.0.0.1:%d/ready", healthPort))
	})
	metric := func(name string) float64 { return agentMetric(metricsURL, name) }

	probes := make([]svidWorkload, svidCacheProbes)
	entries := otherUIDEntries("/node", n)
	for i := range entries {
		entries[i].X509SvidTtl = int32(svidCacheTTL / time.Second)
	}
	for i := range probes {
		probes[i] = svidWorkload{exe: workloadCopy(b, fmt.Sprintf("probe-%d", i)), sock: l.AgentSocket(processAgent)}
		entries = append(entries, &types.Entry{
			SpiffeId:    &types.SPIFFEID{TrustDomain: trustDomain, Path: fmt.Sprintf("/probe/%d", i)},
			ParentId:    &types.SPIFFEID{TrustDomain: trustDomain, Path: "/node"},
			Selectors:   []*types.Selector{{Type: "unix", Value: "path:" + probes[i].exe}},
			X509SvidTtl: int32(svidCacheTTL / time.Second),
		})
	}
	// The entries, and the join token's alias entry.
	total := len(entries) + 1
	want := total
	if limit == 0 {
		want = cache.DefaultX509SVIDCacheMaxSize
	}

	b.ResetTimer()
	start := time.Now()
	admin.CreateEntries(b, entries)
	b.Logf("created %d entries in %v", len(entries), time.Since(start).Round(time.Millisecond))
	pollUntil(b, 15*time.Minute, 100*time.Millisecond, fmt.Sprintf("the agent to know %d entries and hold %d SVIDs", total, want), func() bool {
		return metric("svidkit_agent_entries") >= float64(total) && metric("svidkit_agent_x509_svids") >= float64(want)
	})
	b.ReportMetric(time.Since(start).Seconds(), "fill-s")
	time.Sleep(memorySettle) // Let the daemons idle; nothing to wait for.
	b.ReportMetric(benchmetric.ProcStatusMiB(b, agentProc.Process.Pid, "VmRSS:"), "agent-MiB")
	b.ReportMetric(benchmetric.ProcStatusMiB(b, agentProc.Process.Pid, "RssAnon:"), "agent-anon-MiB")
	b.ReportMetric(benchmetric.ProcStatusMiB(b, agentProc.Process.Pid, "VmHWM:"), "agent-peak-MiB")
	b.ReportMetric(benchmetric.ProcStatusMiB(b, server.Process.Pid, "VmRSS:"), "server-MiB")

	// First fetches, before any held SVID is due: a mint during a probe's
	// call is that probe's.
	var evicted, held benchmetric.Latencies
	for i, p := range probes {
		id := fmt.Sprintf("spiffe://%s/probe/%d", trustDomain, i)
		before := metric("svidkit_agent_x509_svids_minted_total")
		_, d := p.timedFetch(b, id)
		if metric("svidkit_agent_x509_svids_minted_total") > before {
			evicted = append(evicted, d)
		}
		_, d = p.timedFetch(b, id)
		held = append(held, d)
	}
	b.ReportMetric(float64(len(evicted)), "evicted-samples")
	evicted.Report(b, "evicted-first-fetch-", false)
	held.Report(b, "held-fetch-", false)

	// One half lifetime: every held SVID is renewed once.
	before := metric("svidkit_agent_x509_svids_minted_total")
	time.Sleep(svidCacheTTL / 2) // The measurement window; nothing to wait for.
	b.ReportMetric(metric("svidkit_agent_x509_svids_minted_total")-before, "signed/rotation")
	b.ReportMetric(metric("svidkit_agent_x509_svids"), "svids-held")
	b.StopTimer()
	b.ReportMetric(0, "ns/op")

	if err := stopProcess(agentProc); err != nil {
		b.Errorf("agent: %v", err)
	}
	if err := stopProcess(server); err != nil {
		b.Errorf("server: %v", err)
	}
}
