package server

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// revisionCountingStore is a wrapper for counting: it passes every call
// to the real store and counts the EntriesRevision calls.
type revisionCountingStore struct {
	datastore.Store
	revisions atomic.Int64
}

func (s *revisionCountingStore) EntriesRevision(ctx context.Context) (int64, error) {
	s.revisions.Add(1)
	return s.Store.EntriesRevision(ctx)
}

// TestEntryCacheAnnouncedChange: after a change announcement (recheck, as
// a PostgreSQL NOTIFY makes watchStore call) the cache reads the changes
// without first asking the store for its revision (one round trip less
// on the propagation path), takes up another server's write and wakes
// the held syncs it concerns; an announcement with no entry change (a bundle write)
// leaves the snapshot and the held syncs alone.
func TestEntryCacheAnnouncedChange(t *testing.T) {
	own, other := openCacheStores(t, sqlite.Config{})
	seedCacheEntries(t, own)
	store := &revisionCountingStore{Store: own}
	c := newEntryCache(store)
	first := cacheSnapshot(t, c)

	if _, err := other.CreateEntry(t.Context(), cacheEntry("new", "/new", testAgentA, "unix:uid:9")); err != nil {
		t.Fatal(err)
	}
	woken := c.watch(first, map[string]bool{testAgentA: true}).woken()
	c.recheck()
	before := store.revisions.Load()
	snap := cacheSnapshot(t, c)
	if n := store.revisions.Load() - before; n != 0 {
		t.Errorf("announced change: %d EntriesRevision calls, want 0", n)
	}
	if _, ok := snap.byID.get("new"); !ok || snap.revision == first.revision {
		t.Fatalf("announced change not taken up: revision %d (before %d)", snap.revision, first.revision)
	}
	select {
	case <-woken:
	default:
		t.Fatal("held syncs not woken by another server's write")
	}

	quiet := c.watch(snap, map[string]bool{testAgentA: true}).woken()
	c.recheck()
	if again := cacheSnapshot(t, c); again != snap {
		t.Fatal("announcement without an entry change replaced the snapshot")
	}
	select {
	case <-quiet:
		t.Fatal("announcement without an entry change woke the held syncs")
	default:
	}
}
