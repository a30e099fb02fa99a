package cache_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/selector"
)

// TestMatchingAgreesWithScan checks the selector index against a plain scan
// over random entry sets that change between rounds.
func TestMatchingAgreesWithScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := []string{"unix:uid:1", "unix:uid:2", "unix:gid:1", "unix:gid:2", "k8s:ns:a", "k8s:ns:b", "k8s:sa:x"}
	randSels := func(max int) []string {
		n := 1 + rng.IntN(max)
		var out []string
		for range n {
			out = append(out, pool[rng.IntN(len(pool))])
		}
		return out
	}
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	workloads := make([]selector.Set, 20)
	for i := range workloads {
		workloads[i] = sels(randSels(4)...)
	}
	// Long-lived subscribers must always hold the current state: either a
	// pending update or, if they were not notified, the last one.
	last := make([][]string, len(workloads))
	liveSubs := make([]func() []string, len(workloads))
	for i, wl := range workloads {
		sub := subscribe(t, c, wl)
		liveSubs[i] = func() []string {
			select {
			case u := <-sub.Updates():
				last[i] = ids(u)
			default:
			}
			return last[i]
		}
	}
	for round := range 30 {
		var entries []cache.Entry
		for i := range 40 {
			if rng.IntN(3) == 0 {
				continue // entry absent this round
			}
			entries = append(entries, entry(fmt.Sprintf("e%02d", i), fmt.Sprintf("/e%d", i), randSels(3)...))
		}
		setWithSVIDs(t, c, clk.Now(), entries...)
		for wi, wl := range workloads {
			var want []string
			for _, e := range entries {
				if e.Selectors.IsSubsetOf(wl) {
					want = append(want, e.ID)
				}
			}
			slices.Sort(want) // all entries share CreatedAt: ID order
			sub := subscribe(t, c, wl)
			if got := ids(next(t, sub)); !slices.Equal(got, want) {
				t.Fatalf("round %d workload %d %v: got %v, want %v", round, wi, wl, got, want)
			}
			sub.Finish()
			if got := liveSubs[wi](); !slices.Equal(got, want) {
				t.Fatalf("round %d long-lived workload %d %v: got %v, want %v", round, wi, wl, got, want)
			}
		}
	}
}
