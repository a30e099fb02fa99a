package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/internal/testenv"
)

// propagationRounds is how many create/observe/delete rounds
// BenchmarkEntryPropagation runs, whatever b.N is: each round takes a few
// hundred milliseconds, so the count is fixed to keep quantiles meaningful
// and the run short.
const propagationRounds = 50

// BenchmarkEntryPropagation measures the time from an admin API
// BatchCreateEntry call starting to a go-spiffe X.509 watcher on the workload
// seeing the new SPIFFE ID, through a real server and a real agent whose
// entry sync the server holds until the agent's entries change. Each round
// then deletes the entry and waits until it is withdrawn (also reported,
// "withdraw-*"). Before each create it waits a random 0-200 ms, so creates
// land at any point of the agent's activity. Targets: p99 < 1 s, goal
// 100 ms; measured p50 ~4 ms, p99 ~12 ms.
//
// With 50 samples p99 is the second-largest; max is reported too. The
// benchmark runs its own fixed number of rounds and ignores b.N.
func BenchmarkEntryPropagation(b *testing.B) {
	e := startServer(b, testenv.Options{})
	ag := e.StartAgent(b, "a", e.JoinToken(b, "/node"))
	// A standing identity keeps the watch stream open between rounds: with
	// none, the agent denies the stream and go-spiffe retries with backoff,
	// which would be measured instead of propagation.
	baseID := "spiffe://" + trustDomain + "/base"
	e.CreateEntry(b, workloadEntry("/node", "/base", 0))
	w := watch(b, ag.Client(b))
	w.waitFor(b, 30*time.Second, "the standing SVID", func(x *workloadapi.X509Context) bool { return ids(x)[baseID] != nil })

	var created, withdrawn benchmetric.Latencies
	b.ResetTimer()
	for i := range propagationRounds {
		// Deliberate jitter, not a wait for an event.
		time.Sleep(rand.N(200 * time.Millisecond))
		path := fmt.Sprintf("/prop/%d", i)
		id := "spiffe://" + trustDomain + path

		// Timed from before the admin call: its latency is part of what
		// an operator sees.
		start := time.Now()
		entryID := e.CreateEntry(b, workloadEntry("/node", path, 0))
		w.waitFor(b, 10*time.Second, "the new entry's SVID", func(x *workloadapi.X509Context) bool { return ids(x)[id] != nil })
		created = append(created, time.Since(start))

		e.DeleteEntry(b, entryID)
		deleted := time.Now()
		w.waitFor(b, 10*time.Second, "the deleted entry's SVID to be withdrawn", func(x *workloadapi.X509Context) bool {
			return ids(x)[id] == nil && ids(x)[baseID] != nil
		})
		withdrawn = append(withdrawn, time.Since(deleted))
	}
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	created.Report(b, "", true)
	withdrawn.Report(b, "withdraw-", true)
}
