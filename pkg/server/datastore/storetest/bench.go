package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Benchmark measures a store on the server's hot paths, the same way for
// every implementation so that their figures compare: creating an entry
// (serially and from several goroutines), listing one agent's entries
// (100 of 1,000, as the server computes an agent's authorized set) and
// consuming a join token, and reading one changed entry among 1,000 with
// the change log (EntryChangesSince, as a server reloads its entry cache
// after another server's write). open returns a new, empty store.
func Benchmark(b *testing.B, open func(b *testing.B) datastore.Store) {
	b.Run("CreateEntry", func(b *testing.B) {
		s := open(b)
		i := 0
		for b.Loop() {
			if _, err := s.CreateEntry(b.Context(), benchEntry(i, 10)); err != nil {
				b.Fatalf("CreateEntry: %v", err)
			}
			i++
		}
	})
	b.Run("CreateEntryParallel", func(b *testing.B) {
		s := open(b)
		var n atomic.Int64
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.CreateEntry(b.Context(), benchEntry(int(n.Add(1)), 10)); err != nil {
					b.Errorf("CreateEntry: %v", err)
					return
				}
			}
		})
	})
	b.Run("ListAgentEntries", func(b *testing.B) {
		s := open(b)
		for i := range 1000 {
			if _, err := s.CreateEntry(b.Context(), benchEntry(i, 10)); err != nil {
				b.Fatalf("CreateEntry: %v", err)
			}
		}
		f := datastore.EntryFilter{ParentID: "spiffe://example.org/spire/agent/join_token/3"}
		for b.Loop() {
			es, err := s.ListEntries(b.Context(), f)
			if err != nil || len(es) != 100 {
				b.Fatalf("ListEntries = %d entries, %v; want 100", len(es), err)
			}
		}
	})
	b.Run("EntryChangesSince", func(b *testing.B) {
		s := open(b)
		var e *datastore.Entry
		for i := range 1000 {
			var err error
			if e, err = s.CreateEntry(b.Context(), benchEntry(i, 10)); err != nil {
				b.Fatalf("CreateEntry: %v", err)
			}
		}
		if _, err := s.UpdateEntry(b.Context(), e); err != nil {
			b.Fatalf("UpdateEntry: %v", err)
		}
		rev, err := s.EntriesRevision(b.Context())
		if err != nil {
			b.Fatalf("EntriesRevision: %v", err)
		}
		for b.Loop() {
			ch, err := s.EntryChangesSince(b.Context(), rev-1, 1000)
			if err != nil || !ch.EntriesRead || len(ch.Entries) != 1 {
				b.Fatalf("EntryChangesSince = %+v, %v; want one entry read", ch, err)
			}
		}
	})
	b.Run("ConsumeJoinToken", func(b *testing.B) {
		s := open(b)
		exp := time.Now().Add(time.Hour)
		for i := range b.N {
			if err := s.CreateJoinToken(b.Context(), &datastore.JoinToken{Token: fmt.Sprint("tok-", i), ExpiresAt: exp}); err != nil {
				b.Fatalf("CreateJoinToken: %v", err)
			}
		}
		now := time.Now()
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.ConsumeJoinToken(b.Context(), fmt.Sprint("tok-", i), now); err != nil {
				b.Fatalf("ConsumeJoinToken: %v", err)
			}
		}
	})
}

// benchEntry is a typical workload entry: two selectors, a DNS name,
// parented by one of parents agents.
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
