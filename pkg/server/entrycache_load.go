package server

import (
	"context"
	"fmt"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// fullLoadMinChanges is the number of changed entries above which load
// reads every entry when they are also more than half of the snapshot:
// reading them by ID would cost as much.
const fullLoadMinChanges = 1000

// load returns the snapshot of the store's entries at revision rev or
// later, for c.mu's holder, with the parent IDs whose entry lists differ
// from c.snap's (nil when every list may differ). With a previous
// snapshot it reads only the entries changed since (the store's change
// log, with the changed entries in the same call) and builds on it; every
// entry is read when there is none, when the log no longer reaches back to
// it, or when most entries changed.
func (c *entryCache) load(ctx context.Context, rev int64) (*entrySnapshot, map[string]bool, error) {
	if prev := c.snap; prev != nil {
		ch, err := c.store.EntryChangesSince(ctx, prev.revision, max(fullLoadMinChanges, prev.byID.len()/2))
		if err != nil {
			return nil, nil, fmt.Errorf("read entry changes: %w", err)
		}
		if ch.Complete && ch.Revision == prev.revision {
			return prev, nil, nil // invalidated by a write that failed
		}
		if ch.EntriesRead {
			next, touched := prev.withChanges(ch.Revision, ch.IDs, ch.Entries)
			return next, touched, nil
		}
		rev = ch.Revision
	}
	// The entries are read after the revision, so they are at least as
	// new: a write in between is read again at the next change.
	entries, err := c.store.ListEntries(ctx, datastore.EntryFilter{})
	if err != nil {
		return nil, nil, fmt.Errorf("list entries: %w", err)
	}
	return newEntrySnapshot(rev, entries), nil, nil
}

// withChanges returns the snapshot at revision rev that differs from s in
// the entries ids: those in changed (the stored entries among ids) replace
// or add to s's, the others were deleted. It copies the shards of the two
// maps that the changes touch and rebuilds the lists of the parents the
// changes touch, sharing everything else with s. The authorized sets memoised on s
// whose inputs the changes did not touch carry over. It also returns the
// touched parent IDs: the held syncs of the sets that do not carry over
// are woken by them.
func (s *entrySnapshot) withChanges(rev int64, ids []string, changed []*datastore.Entry) (*entrySnapshot, map[string]bool) {
	byID, byParent := editShards(s.byID), editShards(s.byParent)
	gone := make(map[string]bool, len(ids))
	// touched are the parent IDs whose entry lists change: an entry's old
	// and new parent.
	touched := make(map[string]bool)
	for _, id := range ids {
		gone[id] = true
		if old, ok := s.byID.get(id); ok {
			touched[old.entry.ParentID] = true
			byID.delete(id)
		}
	}
	added := make(map[string][]*cachedEntry)
	for _, e := range changed {
		ce := newCachedEntry(e)
		byID.set(e.ID, ce)
		touched[e.ParentID] = true
		added[e.ParentID] = append(added[e.ParentID], ce)
	}
	for parent := range touched {
		// A new list: s's is shared with s and older snapshots.
		old, _ := s.byParent.get(parent)
		list := make([]*cachedEntry, 0, len(old)+len(added[parent]))
		for _, ce := range old {
			if !gone[ce.entry.ID] {
				list = append(list, ce)
			}
		}
		list = append(list, added[parent]...)
		if len(list) == 0 {
			byParent.delete(parent)
		} else {
			byParent.set(parent, list)
		}
	}
	next := &entrySnapshot{
		revision: rev,
		byID:     byID.done(),
		byParent: byParent.done(),
		agents:   make(map[string]*authorizedSet),
	}
	if s.depth+1 < maxInheritDepth {
		// The sets of s and its ancestors are taken over on first use
		// (inherited), not copied here: a copy costs one map entry per
		// agent on every change.
		next.parent, next.touched, next.depth = s, touched, s.depth+1
	} else {
		next.agents = s.untouchedSets(touched)
	}
	return next, touched
}

// maxInheritDepth bounds the chain of snapshots whose memoised sets a
// snapshot inherits on first use (entrySnapshot.inherited): at the bound
// the new snapshot copies the sets that carry over instead and starts a
// new chain, so that old snapshots are released.
const maxInheritDepth = 8

// untouchedSets returns the memoised authorized sets of s and of the
// snapshots it inherits from that do not depend on the entries of any of
// the touched parent IDs, nor on those changed since they were memoised.
// A set is computed from the entry lists of its parents only (see
// authorizedSet.parents), so with those lists unchanged it is the set the
// next snapshot would compute; carrying it over also keeps its built
// responses.
func (s *entrySnapshot) untouchedSets(touched map[string]bool) map[string]*authorizedSet {
	out := make(map[string]*authorizedSet)
	changed := []map[string]bool{touched}
	for cur := s; cur != nil; cur = cur.parent {
		cur.mu.Lock()
		for agent, set := range cur.agents {
			if _, seen := out[agent]; !seen && !dependsOnAnyOf(set, changed) {
				out[agent] = set
			}
		}
		cur.mu.Unlock()
		changed = append(changed, cur.touched)
	}
	return out
}

// inherited returns the set memoised for the agent by the nearest
// snapshot s inherits from that holds one, when the entry lists it was
// computed from did not change since; nil when none holds one or it is
// out of date.
func (s *entrySnapshot) inherited(agentID string) *authorizedSet {
	var changed []map[string]bool
	for cur := s; cur.parent != nil; cur = cur.parent {
		changed = append(changed, cur.touched)
		p := cur.parent
		p.mu.Lock()
		set := p.agents[agentID]
		p.mu.Unlock()
		if set != nil {
			if dependsOnAnyOf(set, changed) {
				return nil
			}
			return set
		}
	}
	return nil
}

// dependsOnAnyOf reports whether set was computed from the entry list of
// a parent in any of the sets.
func dependsOnAnyOf(set *authorizedSet, sets []map[string]bool) bool {
	for _, parents := range sets {
		if dependsOnAny(set, parents) {
			return true
		}
	}
	return false
}

// dependsOnAny reports whether set was computed from the entry list of any
// of the parents, iterating over the smaller of the two.
func dependsOnAny(set *authorizedSet, parents map[string]bool) bool {
	small, large := parents, set.parents
	if len(small) > len(large) {
		small, large = large, small
	}
	for p := range small {
		if large[p] {
			return true
		}
	}
	return false
}
