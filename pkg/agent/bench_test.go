package agent_test

import (
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/selector"
)

// BenchmarkNewEntryLatency measures the time from creating an entry on the
// real server (internal/testenv, in process, through its admin API) to the
// agent delivering its SVID to a subscribed workload, with the server
// holding each sync until entries change (the svidkit long-poll
// extension). ns/op is the mean latency; max-ms the worst seen.
func BenchmarkNewEntryLatency(b *testing.B) {
	clk := newClock()
	srv := testenv.StartServer(b, testenv.Options{})
	cfg := realConfig(b, srv, clk, b.TempDir())
	cfg.SyncInterval = agent.DefaultSyncInterval
	cfg.Log = slog.New(slog.DiscardHandler)
	h := start(b, clk, cfg)
	sub, err := h.agent.Manager().Subscribe(b.Context(), selector.NewSet(selector.Selector{Type: "unix", Value: "uid:1000"}))
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Finish()
	var worst time.Duration
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		id := createEntry(b, srv, fmt.Sprintf("/e%d", i), "unix:uid:1000")
		waitUpdate(b, sub, id, func(u *workloadapi.Update) bool { return serialOf(u, id) != nil })
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
}

// BenchmarkIdleSync measures what one sync round allocates, agent and
// in-process real server together, when 1,000 entries with minted SVIDs
// are unchanged: the steady state of an agent between changes. The server
// sends revisions (1,000 entries exceed its page of 500), so nothing needs
// fetching. The agent waits on the digest for only 20ms (SyncWait), so each
// iteration, one 20ms tick, sees about one idle round; B/sync is the
// process's allocation per entry sync (housekeeping rounds included).
func BenchmarkIdleSync(b *testing.B) {
	clk := newClock()
	srv := testenv.StartServer(b, testenv.Options{})
	const n = 1000
	td := srv.Layout.TrustDomain.Name()
	entries := make([]*types.Entry, n)
	for i := range n {
		e, err := testenv.Entry{Path: fmt.Sprintf("/e%04d", i), Selectors: []string{testenv.UID(10000 + i)}}.Proto(td)
		if err != nil {
			b.Fatal(err)
		}
		entries[i] = e
	}
	srv.CreateEntries(b, entries)
	reg := prometheus.NewRegistry()
	cfg := realConfig(b, srv, clk, b.TempDir())
	cfg.SyncWait = cfg.SyncInterval
	cfg.Log = slog.New(slog.DiscardHandler)
	cfg.Registerer = reg
	h := start(b, clk, cfg)
	h.waitAttested()
	eventually(b, "1,000 SVIDs minted", func() bool {
		return gathered(b, reg, "svidkit_agent_x509_svids_minted_total") >= n
	})

	tick := time.NewTicker(cfg.SyncInterval)
	defer tick.Stop()
	var before, after runtime.MemStats
	syncs := gathered(b, reg, "svidkit_agent_entry_syncs_total")
	runtime.ReadMemStats(&before)
	for b.Loop() {
		<-tick.C
	}
	runtime.ReadMemStats(&after)
	syncs = gathered(b, reg, "svidkit_agent_entry_syncs_total") - syncs
	if syncs == 0 {
		b.Fatal("no sync completed")
	}
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/syncs, "B/sync")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/syncs, "allocs/sync")
}

// gathered returns the value of a counter or gauge, or the sample count of
// a histogram, from reg; 0 when absent.
func gathered(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
