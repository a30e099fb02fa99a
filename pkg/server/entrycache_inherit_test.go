package server

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// TestSnapshotInheritsSets follows a chain of snapshots, each built from
// the one before by withChanges, longer than maxInheritDepth: agent A's
// memoised set is taken over while only other agents' entries change,
// whether or not the snapshots in between were asked for it, and never
// once an entry of A changed, even when that change happened in a
// snapshot nobody asked for A's set (the set must not be taken over from
// an older snapshot across it), on first use (inherited) as when the
// chain is copied (untouchedSets). Every answer is compared with a snapshot
// read in full.
func TestSnapshotInheritsSets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	selsA := selector.NewSet(selector.Selector{Type: "k8s", Value: "node:a"})
	current := map[string]*datastore.Entry{
		"a1": cacheEntry("a1", "/a1", testAgentA, "unix:uid:1"),
		"b1": cacheEntry("b1", "/b1", testAgentB, "unix:uid:1"),
	}
	rev := int64(1)
	snap := newEntrySnapshot(rev, slices.Collect(maps.Values(current)))
	setA := snap.authorizedFor(testAgentA, testServerID, selsA, now)

	// step writes e and returns the next snapshot.
	step := func(e *datastore.Entry) {
		t.Helper()
		rev++
		current[e.ID] = e
		snap, _ = snap.withChanges(rev, []string{e.ID}, []*datastore.Entry{e})
	}
	// check asks snap for A's set and compares it with a full read; it
	// reports whether the set was taken over (the same memoised set).
	check := func(label string) bool {
		t.Helper()
		got := snap.authorizedFor(testAgentA, testServerID, selsA, now)
		want := newEntrySnapshot(rev, slices.Collect(maps.Values(current))).authorizedFor(testAgentA, testServerID, selsA, now)
		if g, w := entryIDs(got), entryIDs(want); !slices.Equal(g, w) {
			t.Fatalf("%s: A's set holds %v, want %v", label, g, w)
		}
		return got == setA
	}

	for i := range 3 * maxInheritDepth {
		step(cacheEntry(fmt.Sprintf("b%d", i+2), fmt.Sprintf("/b%d", i+2), testAgentB, "unix:uid:1"))
		if i%3 == 2 && !check(fmt.Sprintf("after B's change %d", i)) {
			t.Fatalf("after B's change %d: A's set was computed again, want it taken over", i)
		}
	}
	// A's entry changes in a snapshot nobody asks for A's set, then B's.
	step(cacheEntry("a2", "/a2", testAgentA, "unix:uid:2"))
	step(cacheEntry("b99", "/b99", testAgentB, "unix:uid:1"))
	if check("after A's change") {
		t.Fatal("after A's change: the set memoised before it was taken over")
	}
	setA = snap.authorizedFor(testAgentA, testServerID, selsA, now)
	for i := range maxInheritDepth + 1 {
		step(cacheEntry(fmt.Sprintf("c%d", i), fmt.Sprintf("/c%d", i), testAgentB, "unix:uid:1"))
	}
	if !check("after more of B's changes") {
		t.Fatal("after more of B's changes: A's set was computed again, want it taken over")
	}
	// A's entry changes, then enough of B's that the chain is copied
	// (untouchedSets) before anyone asks for A's set again.
	step(cacheEntry("a3", "/a3", testAgentA, "unix:uid:3"))
	for i := range maxInheritDepth + 1 {
		step(cacheEntry(fmt.Sprintf("d%d", i), fmt.Sprintf("/d%d", i), testAgentB, "unix:uid:1"))
	}
	if check("after A's change and a copied chain") {
		t.Fatal("after A's change and a copied chain: the set memoised before it was taken over")
	}
}

// entryIDs returns the IDs of the set's entries, in its order (by ID).
func entryIDs(s *authorizedSet) []string {
	ids := make([]string, len(s.entries))
	for i, ce := range s.entries {
		ids[i] = ce.entry.ID
	}
	return ids
}
