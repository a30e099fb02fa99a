package agent_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/workloadapi"
)

// BenchmarkNewEntryLatency measures the time from creating an entry on the
// (fake, in-process) server to the agent delivering its SVID to a
// subscribed workload, with the default 200ms sync interval. ns/op is the
// mean latency; max-ms the worst seen.
func BenchmarkNewEntryLatency(b *testing.B) {
	clk := newClock()
	srv := newFakeServer(b, clk, fakeServerConfig{})
	srv.addToken("token", false)
	cfg := config(b, srv, clk, b.TempDir(), "token")
	cfg.SyncInterval = agent.DefaultSyncInterval
	cfg.Log = slog.New(slog.DiscardHandler)
	h := start(b, srv, clk, cfg)
	sub, err := h.agent.Manager().Subscribe(b.Context(), selector.NewSet(selector.Selector{Type: "unix", Value: "uid:1000"}))
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Finish()
	var worst time.Duration
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("e%d", i)
		start := time.Now()
		srv.setEntry(id, "/"+id, "unix:uid:1000")
		waitUpdate(b, sub, id, func(u *workloadapi.Update) bool { return serialOf(u, id) != nil })
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
}
