package sqlite_test

import (
	"fmt"
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/storetest"
)

// benchEntry is a typical workload entry: two selectors, a DNS name.
func benchEntry(i, parents int) *datastore.Entry {
	return &datastore.Entry{
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

// seeded returns a store holding n entries spread over parents agents.
func seeded(b *testing.B, n, parents int) datastore.Store {
	b.Helper()
	s := openTemp(b)
	for i := range n {
		if _, err := s.CreateEntry(b.Context(), benchEntry(i, parents)); err != nil {
			b.Fatalf("CreateEntry: %v", err)
		}
	}
	return s
}

func BenchmarkCreateEntry(b *testing.B) {
	s := openTemp(b)
	i := 0
	for b.Loop() {
		if _, err := s.CreateEntry(b.Context(), benchEntry(i, 10)); err != nil {
			b.Fatalf("CreateEntry: %v", err)
		}
		i++
	}
}

// BenchmarkListEntriesByParent lists one agent's 100 entries out of 1,000.
func BenchmarkListEntriesByParent(b *testing.B) {
	s := seeded(b, 1000, 10)
	f := datastore.EntryFilter{ParentID: "spiffe://example.org/spire/agent/join_token/3"}
	for b.Loop() {
		es, err := s.ListEntries(b.Context(), f)
		if err != nil || len(es) != 100 {
			b.Fatalf("ListEntries = %d entries, %v; want 100", len(es), err)
		}
	}
}

// BenchmarkListAllEntries lists all of 1,000 entries.
func BenchmarkListAllEntries(b *testing.B) {
	s := seeded(b, 1000, 10)
	for b.Loop() {
		es, err := s.ListEntries(b.Context(), datastore.EntryFilter{})
		if err != nil || len(es) != 1000 {
			b.Fatalf("ListEntries = %d entries, %v; want 1000", len(es), err)
		}
	}
}

// BenchmarkListEntriesBySelectorSubset is the workload-attestation query:
// entries whose selectors are a subset of a workload's, among 1,000.
func BenchmarkListEntriesBySelectorSubset(b *testing.B) {
	s := seeded(b, 1000, 10)
	f := datastore.EntryFilter{
		Selectors: selector.NewSet(
			selector.Selector{Type: "unix", Value: "uid:42"},
			selector.Selector{Type: "unix", Value: "gid:1000"},
			selector.Selector{Type: "unix", Value: "path:/usr/bin/app"},
		),
		SelectorMatch: datastore.MatchSubset,
	}
	for b.Loop() {
		es, err := s.ListEntries(b.Context(), f)
		if err != nil || len(es) != 1 {
			b.Fatalf("ListEntries = %d entries, %v; want 1", len(es), err)
		}
	}
}

// BenchmarkStore runs the hot paths every store is measured on
// (storetest.Benchmark), to compare with PostgreSQL's figures.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) datastore.Store { return openTemp(b) })
}
