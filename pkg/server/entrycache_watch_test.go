package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// TestEntryCacheWatch: a held sync registered with entryCache.watch under
// its authorized set's parents is woken exactly when the next snapshot
// would not carry its set over: an entry change of one of those parents,
// or a reload that does not know which lists changed. A registration with
// a snapshot already replaced is woken at once, so that no change slips
// between reading the snapshot and registering.
func TestEntryCacheWatch(t *testing.T) {
	const agentC = "spiffe://example.org/spire/agent/c"
	create := func(id, path, parent string) func(t *testing.T, s datastore.Store) {
		return func(t *testing.T, s datastore.Store) {
			t.Helper()
			if _, err := s.CreateEntry(t.Context(), cacheEntry(id, path, parent, "unix:uid:7")); err != nil {
				t.Fatalf("CreateEntry %s: %v", id, err)
			}
		}
	}
	tests := []struct {
		name string
		cfg  sqlite.Config
		// write changes the store before the new snapshot is loaded.
		write func(t *testing.T, s datastore.Store)
		// registerLate registers after the new snapshot replaced the one
		// the sets were computed from.
		registerLate bool
		// want says, per test agent (a, b, c), whether it is woken.
		want [3]bool
	}{
		{name: "entry of agent a", write: create("new-a", "/new/a", testAgentA), want: [3]bool{true, false, false}},
		{name: "entry of agent c", write: create("new-c", "/new/c", agentC), want: [3]bool{false, false, true}},
		{name: "workload of the node alias (a and b reach it)", write: create("new-alias", "/new/alias", testAlias), want: [3]bool{true, true, false}},
		{name: "downstream entry of agent a's workload", write: create("new-down", "/new/down", "spiffe://example.org/down"), want: [3]bool{true, false, false}},
		{name: "node entry (parented to the server) concerns every agent", write: create("new-node", "/node/new", testServerID), want: [3]bool{true, true, true}},
		{name: "entry of an agent nobody holds", write: create("new-z", "/new/z", "spiffe://example.org/spire/agent/z"), want: [3]bool{false, false, false}},
		{
			name: "registered after the snapshot was replaced", write: create("late-z", "/late/z", "spiffe://example.org/spire/agent/z"),
			registerLate: true, want: [3]bool{true, true, true},
		},
		{
			name: "full reload (the change log no longer reaches back)", cfg: sqlite.Config{EntryChangesKept: 1},
			write: func(t *testing.T, s datastore.Store) {
				for i := range 3 {
					create(fmt.Sprintf("z-%d", i), fmt.Sprintf("/z/%d", i), "spiffe://example.org/spire/agent/z")(t, s)
				}
			},
			want: [3]bool{true, true, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := openCacheStores(t, tt.cfg)
			seedCacheEntries(t, store)
			c := newEntryCache(store)
			snap := cacheSnapshot(t, c)
			sets := make([]*authorizedSet, len(testAgents))
			for i, a := range testAgents {
				sets[i] = snap.authorizedFor(a.id, testServerID, agentSelectors(a.sels), time.Now())
			}
			ws := make([]*waiter, len(testAgents))
			register := func() {
				for i, set := range sets {
					ws[i] = c.watch(snap, set.parents)
				}
			}
			if !tt.registerLate {
				register()
			}
			tt.write(t, store)
			c.invalidate()
			if next := cacheSnapshot(t, c); next == snap {
				t.Fatal("snapshot not replaced after the write")
			}
			if tt.registerLate {
				register()
			}
			for i, w := range ws {
				if got := isWoken(w); got != tt.want[i] {
					t.Errorf("agent %s: woken %v, want %v", testAgents[i].id, got, tt.want[i])
				}
				c.held.cancel(w)
			}
			if n := c.held.len(); n != 0 {
				t.Errorf("%d waiters left registered after cancel", n)
			}
		})
	}
}
