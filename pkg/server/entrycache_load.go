package server

import (
	"context"
	"fmt"
	"maps"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// fullLoadMinChanges is the number of changed entries above which load
// reads every entry when they are also more than half of the snapshot:
// reading them by ID would cost as much.
const fullLoadMinChanges = 1000

// load returns the snapshot of the store's entries at revision rev or
// later, for c.mu's holder. With a previous snapshot it reads only the
// entries changed since (the store's change log) and builds on it; every
// entry is read when there is none, when the log no longer reaches back
// to it, or when most entries changed.
func (c *entryCache) load(ctx context.Context, rev int64) (*entrySnapshot, error) {
	if prev := c.snap; prev != nil {
		ch, err := c.store.EntryChangesSince(ctx, prev.revision)
		if err != nil {
			return nil, fmt.Errorf("read entry changes: %w", err)
		}
		if ch.Complete && (len(ch.IDs) <= fullLoadMinChanges || len(ch.IDs) <= len(prev.byID)/2) {
			changed, err := c.store.GetEntries(ctx, ch.IDs)
			if err != nil {
				return nil, fmt.Errorf("read changed entries: %w", err)
			}
			return prev.withChanges(ch.Revision, ch.IDs, changed), nil
		}
		rev = ch.Revision
	}
	// The entries are read after the revision, so they are at least as
	// new: a write in between is read again at the next change.
	entries, err := c.store.ListEntries(ctx, datastore.EntryFilter{})
	if err != nil {
		return nil, fmt.Errorf("list entries: %w", err)
	}
	return newEntrySnapshot(rev, entries), nil
}

// withChanges returns the snapshot at revision rev that differs from s in
// the entries ids: those in changed (the stored entries among ids) replace
// or add to s's, the others were deleted. It copies the two maps (a
// pointer per entry) and rebuilds the lists of the parents the changes
// touch, sharing everything else with s. The authorized sets memoised on s
// whose inputs the changes did not touch carry over.
func (s *entrySnapshot) withChanges(rev int64, ids []string, changed []*datastore.Entry) *entrySnapshot {
	next := &entrySnapshot{
		revision: rev,
		byID:     maps.Clone(s.byID),
		byParent: maps.Clone(s.byParent),
	}
	gone := make(map[string]bool, len(ids))
	// touched are the parent IDs whose entry lists change: an entry's old
	// and new parent.
	touched := make(map[string]bool)
	for _, id := range ids {
		gone[id] = true
		if old, ok := s.byID[id]; ok {
			touched[old.entry.ParentID] = true
			delete(next.byID, id)
		}
	}
	added := make(map[string][]*cachedEntry)
	for _, e := range changed {
		ce := newCachedEntry(e)
		next.byID[e.ID] = ce
		touched[e.ParentID] = true
		added[e.ParentID] = append(added[e.ParentID], ce)
	}
	for parent := range touched {
		old := s.byParent[parent]
		list := make([]*cachedEntry, 0, len(old)+len(added[parent]))
		for _, ce := range old {
			if !gone[ce.entry.ID] {
				list = append(list, ce)
			}
		}
		list = append(list, added[parent]...)
		if len(list) == 0 {
			delete(next.byParent, parent)
		} else {
			next.byParent[parent] = list
		}
	}
	next.agents = s.untouchedSets(touched)
	return next
}

// untouchedSets returns the memoised authorized sets that do not depend on
// the entries of any of the touched parent IDs. A set is computed from the
// entry lists of its parents only (see authorizedSet.parents), so with
// those lists unchanged it is the set the next snapshot would compute;
// carrying it over also keeps its built responses.
func (s *entrySnapshot) untouchedSets(touched map[string]bool) map[string]*authorizedSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*authorizedSet, len(s.agents))
	for agent, set := range s.agents {
		if !dependsOnAny(set, touched) {
			out[agent] = set
		}
	}
	return out
}

// dependsOnAny reports whether set was computed from the entry list of any
// of the parents.
func dependsOnAny(set *authorizedSet, parents map[string]bool) bool {
	for p := range parents {
		if set.parents[p] {
			return true
		}
	}
	return false
}
