package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/internal/testenv"
)

// BenchmarkWorkloadFetchX509SVID measures one FetchX509SVID round trip of
// go-spiffe's Workload API client against a real agent with a warm cache:
// peer-credential attestation, entry matching and response encoding.
// "entries=1" has only this process's entry; "entries=1000" adds 999
// entries for other uids on the same agent, to show that matching does not
// scan them. Target: p99 < 2 ms.
func BenchmarkWorkloadFetchX509SVID(b *testing.B) {
	e := startServer(b, testenv.Options{})
	ag := e.StartAgent(b, "a", e.JoinToken(b, "/node"))
	e.CreateEntry(b, workloadEntry("/node", "/workload", 0))
	waitSynced(b, ag, 1, 30*time.Second)
	client := ag.Client(b)
	pollUntil(b, 10*time.Second, 20*time.Millisecond, "the workload's first X.509-SVID", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := client.FetchX509SVID(ctx)
		return err == nil
	})

	run := func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		// Warm up: the connection, the agent's per-workload state.
		for range 10 {
			if _, err := client.FetchX509SVID(ctx); err != nil {
				b.Fatalf("FetchX509SVID: %v", err)
			}
		}
		var lat benchmetric.Latencies
		for b.Loop() {
			start := time.Now()
			if _, err := client.FetchX509SVID(ctx); err != nil {
				b.Fatalf("FetchX509SVID: %v", err)
			}
			lat = append(lat, time.Since(start))
		}
		lat.Report(b, "", false)
	}

	b.Run("entries=1", run)
	e.CreateEntries(b, otherUIDEntries("/node", 999))
	waitSynced(b, ag, 1000, 2*time.Minute)
	b.Run("entries=1000", run)
}
