package server

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// BenchmarkEntryCache measures what one entry write costs the server's
// entry cache over a SQLite store of 10,000 and 100,000 entries (ten per
// agent, as the load profile): "create" is a create through the
// store followed by the snapshot that every held sync then reads (the
// entry create throughput a server with waiting agents sustains);
// "update" is the snapshot rebuild alone after one entry update, the
// store write excluded from the timing.
func BenchmarkEntryCache(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			store := seededStore(b, n)
			c := newEntryCache(store)
			if _, err := c.snapshot(b.Context()); err != nil {
				b.Fatal(err)
			}
			next := n // the next new entry, across runs (-count)
			b.Run("create", func(b *testing.B) {
				for b.Loop() {
					if _, err := store.CreateEntry(b.Context(), benchCacheEntry(next, n/10)); err != nil {
						b.Fatalf("CreateEntry: %v", err)
					}
					c.invalidate()
					if _, err := c.snapshot(b.Context()); err != nil {
						b.Fatal(err)
					}
					next++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
			})
			b.Run("update", func(b *testing.B) {
				i := 0
				for b.Loop() {
					b.StopTimer()
					e, err := store.GetEntry(b.Context(), fmt.Sprintf("bench-%d", i%n))
					if err != nil {
						b.Fatalf("GetEntry: %v", err)
					}
					e.X509SVIDTTL++
					if _, err := store.UpdateEntry(b.Context(), e); err != nil {
						b.Fatalf("UpdateEntry: %v", err)
					}
					c.invalidate()
					b.StartTimer()
					if _, err := c.snapshot(b.Context()); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}

// seededStore returns a SQLite store holding n entries, ten per agent.
func seededStore(b *testing.B, n int) datastore.Store {
	b.Helper()
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.sqlite3"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for i := range n {
		if _, err := s.CreateEntry(b.Context(), benchCacheEntry(i, n/10)); err != nil {
			b.Fatalf("CreateEntry: %v", err)
		}
	}
	return s
}

// benchCacheEntry is a typical workload entry with the ID bench-<i>,
// parented by one of parents agents.
func benchCacheEntry(i, parents int) *datastore.Entry {
	return &datastore.Entry{
		ID:       fmt.Sprintf("bench-%d", i),
		SPIFFEID: fmt.Sprintf("spiffe://example.org/workload/%d", i),
		ParentID: fmt.Sprintf("spiffe://example.org/spire/agent/join_token/%d", i%parents),
		Selectors: selector.NewSet(
			selector.Selector{Type: "unix", Value: fmt.Sprintf("uid:%d", i)},
			selector.Selector{Type: "unix", Value: "gid:1000"},
		),
		DNSNames:    []string{fmt.Sprintf("w%d.example.org", i)},
		X509SVIDTTL: 3600,
	}
}

// BenchmarkEntrySnapshotApply measures building the next snapshot in
// memory from one of 10,000 and 100,000 entries and one changed entry
// (withChanges: the two maps copied, one parent's list rebuilt), the store
// reads excluded.
func BenchmarkEntrySnapshotApply(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			es := make([]*datastore.Entry, n)
			for i := range es {
				es[i] = benchCacheEntry(i, n/10)
			}
			s := newEntrySnapshot(1, es)
			changed := benchCacheEntry(0, n/10)
			changed.X509SVIDTTL++
			ids := []string{changed.ID}
			for b.Loop() {
				s.withChanges(2, ids, []*datastore.Entry{changed})
			}
		})
	}
}
