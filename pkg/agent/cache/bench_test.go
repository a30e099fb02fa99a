package cache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/agent/cache"
)

// bigCache holds n entries, each matching one of n distinct uid workloads,
// with SVIDs minted.
func bigCache(b *testing.B, n int) (*cache.Cache, []cache.Entry) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	entries := make([]cache.Entry, n)
	svids := make(map[string]cache.SVID, n)
	for i := range entries {
		id := fmt.Sprintf("e%04d", i)
		entries[i] = entry(id, "/w/"+id, fmt.Sprintf("unix:uid:%d", i), "unix:gid:1")
	}
	c.SetEntries(entries)
	sv := svidFor(b, entries[0], clk.Now(), clk.Now().Add(time.Hour))
	for _, e := range entries {
		svids[e.ID] = sv
	}
	c.SetSVIDs(svids)
	return c, entries
}

// BenchmarkSubscribe measures one Workload API stream start (subscribe,
// first update, finish) against 1,000 entries.
func BenchmarkSubscribe(b *testing.B) {
	c, _ := bigCache(b, 1000)
	wl := sels("unix:uid:500", "unix:gid:1", "unix:pid:1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		sub, err := c.Subscribe(ctx, wl)
		if err != nil {
			b.Fatal(err)
		}
		if u := <-sub.Updates(); len(u.Identities) != 1 {
			b.Fatalf("identities = %d", len(u.Identities))
		}
		sub.Finish()
	}
}

// BenchmarkSVIDRotation measures storing one rotated SVID with 1,000
// entries and 1,000 subscribers, one per entry.
func BenchmarkSVIDRotation(b *testing.B) {
	c, entries := bigCache(b, 1000)
	for i := range entries {
		sub, err := c.Subscribe(context.Background(), sels(fmt.Sprintf("unix:uid:%d", i), "unix:gid:1"))
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Finish()
	}
	sv := svidFor(b, entries[0], time.Now(), time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		c.SetSVIDs(map[string]cache.SVID{"e0500": sv})
	}
}
