package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// countingStore is a wrapper for counting: it passes every call to the
// real store and counts the ListEntries calls that read every entry.
type countingStore struct {
	datastore.Store
	listAll atomic.Int64
}

func (s *countingStore) ListEntries(ctx context.Context, f datastore.EntryFilter) ([]*datastore.Entry, error) {
	if reflect.DeepEqual(f, datastore.EntryFilter{}) {
		s.listAll.Add(1)
	}
	return s.Store.ListEntries(ctx, f)
}

const (
	testServerID = "spiffe://example.org/spire/server"
	testAgentA   = "spiffe://example.org/spire/agent/a"
	testAgentB   = "spiffe://example.org/spire/agent/b"
	testAlias    = "spiffe://example.org/node/cluster"
)

// testAgents are the agents whose authorized sets the tests compare, with
// their node selectors: a and b both match the node alias, c matches
// none.
var testAgents = []struct {
	id   string
	sels []string
}{
	{testAgentA, []string{"k8s:cluster:c1", "k8s:node:a"}},
	{testAgentB, []string{"k8s:cluster:c1", "k8s:node:b"}},
	{"spiffe://example.org/spire/agent/c", []string{"k8s:node:c"}},
}

// cacheEntry is an entry with the given ID, SPIFFE ID path, parent and
// selectors.
func cacheEntry(id, path, parent string, sels ...string) *datastore.Entry {
	e := &datastore.Entry{ID: id, SPIFFEID: "spiffe://example.org" + path, ParentID: parent}
	for _, s := range sels {
		sel, err := selector.Parse(s)
		if err != nil {
			panic(err)
		}
		e.Selectors = append(e.Selectors, sel)
	}
	return e
}

// seedCacheEntries stores a node alias (matching agents a and b) with
// workloads, workloads of agent a, and a chain of entries parented to an
// entry's SPIFFE ID (a downstream workload).
func seedCacheEntries(t *testing.T, s datastore.Store) {
	t.Helper()
	es := []*datastore.Entry{
		cacheEntry("alias", "/node/cluster", testServerID, "k8s:cluster:c1"),
		cacheEntry("node-b", "/node/b", testServerID, "k8s:node:b"),
		cacheEntry("w-alias-1", "/w/alias/1", testAlias, "unix:uid:1"),
		cacheEntry("w-alias-2", "/w/alias/2", testAlias, "unix:uid:2"),
		cacheEntry("w-a-1", "/w/a/1", testAgentA, "unix:uid:1"),
		cacheEntry("w-a-2", "/w/a/2", testAgentA, "unix:uid:2"),
		cacheEntry("down", "/down", testAgentA, "unix:uid:3"),
		cacheEntry("down-child", "/down/child", "spiffe://example.org/down", "unix:uid:4"),
		cacheEntry("w-b-1", "/w/b/1", "spiffe://example.org/node/b", "unix:uid:1"),
	}
	for i := range 20 {
		es = append(es, cacheEntry(fmt.Sprintf("w-c-%02d", i), fmt.Sprintf("/w/c/%d", i), "spiffe://example.org/spire/agent/c", "unix:uid:1"))
	}
	for _, e := range es {
		if _, err := s.CreateEntry(t.Context(), e); err != nil {
			t.Fatalf("CreateEntry %s: %v", e.ID, err)
		}
	}
}

// openCacheStores opens a SQLite store (the cache's) and a second one on
// the same file that stands in for another server writing to it.
func openCacheStores(t *testing.T, cfg sqlite.Config) (own, other datastore.Store) {
	t.Helper()
	cfg.ConnString = filepath.Join(t.TempDir(), "db.sqlite3")
	s, err := sqlite.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cfg.Shared = true
	o, err := sqlite.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return s, o
}

// TestEntryCacheIncremental: after each kind of entry change, by this
// server or another one on the same database, the snapshot the cache
// builds from the previous one and the changed entries equals one read
// from every stored entry — entries, parent lists and every agent's
// authorized set (the sets memoised on the previous snapshot included) —
// and the cache read the changed entries only: no ListEntries of every
// entry after the first load.
func TestEntryCacheIncremental(t *testing.T) {
	ctx := context.Background()
	update := func(id string, fn func(e *datastore.Entry)) func(s datastore.Store) error {
		return func(s datastore.Store) error {
			e, err := s.GetEntry(ctx, id)
			if err != nil {
				return err
			}
			fn(e)
			_, err = s.UpdateEntry(ctx, e)
			return err
		}
	}
	create := func(e *datastore.Entry) func(s datastore.Store) error {
		return func(s datastore.Store) error { _, err := s.CreateEntry(ctx, e); return err }
	}
	del := func(id string) func(s datastore.Store) error {
		return func(s datastore.Store) error { _, err := s.DeleteEntry(ctx, id); return err }
	}
	cases := []struct {
		name   string
		writes []func(s datastore.Store) error
	}{
		{"create under an agent", []func(datastore.Store) error{create(cacheEntry("new", "/new", testAgentA, "unix:uid:9"))}},
		{"create under the node alias", []func(datastore.Store) error{create(cacheEntry("new", "/new", testAlias, "unix:uid:9"))}},
		{"create a node alias matching agent c", []func(datastore.Store) error{create(cacheEntry("new", "/node/c", testServerID, "k8s:node:c"))}},
		{"update selectors", []func(datastore.Store) error{update("w-a-1", func(e *datastore.Entry) {
			e.Selectors = selector.NewSet(selector.Selector{Type: "unix", Value: "uid:7"})
		})}},
		{"update ttl", []func(datastore.Store) error{update("w-alias-1", func(e *datastore.Entry) { e.X509SVIDTTL = 60 })}},
		{"move from an agent to the node alias", []func(datastore.Store) error{update("w-a-2", func(e *datastore.Entry) { e.ParentID = testAlias })}},
		{"move from the node alias to agent b", []func(datastore.Store) error{update("w-alias-2", func(e *datastore.Entry) { e.ParentID = testAgentB })}},
		{"node alias no longer matches agent b", []func(datastore.Store) error{update("alias", func(e *datastore.Entry) {
			e.Selectors = selector.NewSet(selector.Selector{Type: "k8s", Value: "node:a"})
		})}},
		{"rename an entry others are parented to", []func(datastore.Store) error{update("down", func(e *datastore.Entry) { e.SPIFFEID = "spiffe://example.org/down2" })}},
		{"rename an entry to the node alias's ID", []func(datastore.Store) error{update("w-b-1", func(e *datastore.Entry) { e.SPIFFEID = testAlias })}},
		{"delete a workload", []func(datastore.Store) error{del("w-alias-1")}},
		{"delete the node alias", []func(datastore.Store) error{del("alias")}},
		{"delete an entry others are parented to", []func(datastore.Store) error{del("down")}},
		{"expire an entry", []func(datastore.Store) error{update("w-a-1", func(e *datastore.Entry) { e.ExpiresAt = time.Now().Add(-time.Hour).Unix() })}},
		{"several changes at once", []func(datastore.Store) error{
			del("alias"),
			create(cacheEntry("alias2", "/node/cluster", testServerID, "k8s:node:b")),
			update("w-alias-1", func(e *datastore.Entry) { e.ParentID = testAgentB }),
			create(cacheEntry("new", "/new", testAlias, "unix:uid:9")),
			del("new"),
		}},
		{"create and delete in between", []func(datastore.Store) error{
			create(cacheEntry("new", "/new", testAlias, "unix:uid:9")),
			del("new"),
		}},
	}
	for _, tc := range cases {
		for _, remote := range []bool{false, true} {
			name := tc.name + "/local"
			if remote {
				name = tc.name + "/remote"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				own, other := openCacheStores(t, sqlite.Config{})
				seedCacheEntries(t, own)
				store := &countingStore{Store: own}
				c := newEntryCache(store)
				prev := cacheSnapshot(t, c)
				memoise(prev)
				writer := own
				if remote {
					writer = other
				}
				for _, w := range tc.writes {
					if err := w(writer); err != nil {
						t.Fatalf("write: %v", err)
					}
				}
				if remote {
					c.recheck() // as a change notification does
				} else {
					c.invalidate()
				}
				got := cacheSnapshot(t, c)
				if got == prev {
					t.Fatal("snapshot unchanged after a write")
				}
				if n := store.listAll.Load(); n != 1 {
					t.Errorf("ListEntries of every entry called %d times, want once (the first load)", n)
				}
				wantSnapshotEqual(t, got, fullSnapshot(t, own))
			})
		}
	}
}

// TestEntryCacheLogPruned: a cache behind by more revisions than the
// change log keeps reads every entry again, and is then right.
func TestEntryCacheLogPruned(t *testing.T) {
	t.Parallel()
	own, _ := openCacheStores(t, sqlite.Config{EntryChangesKept: 2})
	seedCacheEntries(t, own)
	store := &countingStore{Store: own}
	c := newEntryCache(store)
	memoise(cacheSnapshot(t, c))
	for i := range 3 {
		if _, err := own.CreateEntry(t.Context(), cacheEntry(fmt.Sprint("new-", i), fmt.Sprint("/new/", i), testAlias)); err != nil {
			t.Fatal(err)
		}
	}
	c.invalidate()
	got := cacheSnapshot(t, c)
	if n := store.listAll.Load(); n != 2 {
		t.Errorf("ListEntries of every entry called %d times, want twice (the first load and after the log was pruned)", n)
	}
	wantSnapshotEqual(t, got, fullSnapshot(t, own))
}

// TestEntryCacheFailedWrite: an invalidation by a write that changed
// nothing (refused by the store) keeps the snapshot and reads no entry.
func TestEntryCacheFailedWrite(t *testing.T) {
	t.Parallel()
	own, _ := openCacheStores(t, sqlite.Config{})
	seedCacheEntries(t, own)
	store := &countingStore{Store: own}
	c := newEntryCache(store)
	prev := cacheSnapshot(t, c)
	if _, err := own.CreateEntry(t.Context(), cacheEntry("alias", "/other", testAgentA)); !errors.Is(err, datastore.ErrAlreadyExists) {
		t.Fatalf("CreateEntry of an existing ID = %v, want ErrAlreadyExists", err)
	}
	c.invalidate()
	if got := cacheSnapshot(t, c); got != prev {
		t.Error("snapshot replaced after a refused write")
	}
	if n := store.listAll.Load(); n != 1 {
		t.Errorf("ListEntries of every entry called %d times, want once (the first load)", n)
	}
}

func cacheSnapshot(t *testing.T, c *entryCache) *entrySnapshot {
	t.Helper()
	s, err := c.snapshot(t.Context())
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return s
}

// memoise computes every test agent's authorized set on s, so that a
// snapshot built from s may carry them over.
func memoise(s *entrySnapshot) {
	for _, a := range testAgents {
		s.authorizedFor(a.id, testServerID, agentSelectors(a.sels), time.Now())
	}
}

func agentSelectors(ss []string) selector.Set {
	out := make([]selector.Selector, len(ss))
	for i, s := range ss {
		out[i], _ = selector.Parse(s)
	}
	return selector.NewSet(out...)
}

// fullSnapshot reads every stored entry into a snapshot, as the first
// load does.
func fullSnapshot(t *testing.T, s datastore.Store) *entrySnapshot {
	t.Helper()
	rev, err := s.EntriesRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.ListEntries(t.Context(), datastore.EntryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return newEntrySnapshot(rev, es)
}

// wantSnapshotEqual fails the test unless got and want hold the same
// revision, entries (stored and API form), parent lists (in any order)
// and authorized sets of the test agents.
func wantSnapshotEqual(t *testing.T, got, want *entrySnapshot) {
	t.Helper()
	if got.revision != want.revision {
		t.Errorf("revision = %d, want %d", got.revision, want.revision)
	}
	if got.byID.len() != want.byID.len() {
		t.Errorf("%d entries, want %d", got.byID.len(), want.byID.len())
	}
	for id, w := range want.byID.all() {
		g, ok := got.byID.get(id)
		switch {
		case !ok:
			t.Errorf("entry %s missing", id)
		case !reflect.DeepEqual(g.entry, w.entry) || !proto.Equal(g.proto, w.proto) || g.id != w.id:
			t.Errorf("entry %s = %+v, want %+v", id, g.entry, w.entry)
		}
	}
	parentIDs := func(s *entrySnapshot) map[string][]string {
		out := make(map[string][]string)
		for p, list := range s.byParent.all() {
			for _, ce := range list {
				out[p] = append(out[p], ce.entry.ID)
			}
			slices.Sort(out[p])
		}
		return out
	}
	if g, w := parentIDs(got), parentIDs(want); !reflect.DeepEqual(g, w) {
		t.Errorf("entries by parent = %v, want %v", g, w)
	}
	now := time.Now()
	for _, a := range testAgents {
		sels := agentSelectors(a.sels)
		g := got.authorizedFor(a.id, testServerID, sels, now)
		w := want.authorizedFor(a.id, testServerID, sels, now)
		if gi, wi := setIDs(g), setIDs(w); !slices.Equal(gi, wi) || g.digestHex() != w.digestHex() {
			t.Errorf("agent %s is authorized for %q, want %q", a.id, gi, wi)
		}
	}
}

func setIDs(s *authorizedSet) []string {
	ids := make([]string, len(s.entries))
	for i, ce := range s.entries {
		ids[i] = ce.entry.ID
	}
	return ids
}
