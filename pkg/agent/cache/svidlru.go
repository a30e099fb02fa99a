package cache

import (
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Which entries hold an X.509-SVID. An agent may be authorized for far more
// entries than it has workloads (a node alias parenting a whole cluster's
// workloads), so the cache holds SVIDs the way SPIRE's LRU cache does, with
// x509_svid_cache_max_size as a soft limit:
//
//   - an entry a connected workload matches (a live subscription, stream or
//     unary call) always holds an SVID: one it lacks is minted first, and
//     the subscription's first update waits for it (see Subscribe);
//   - the other SVIDs are kept up to the limit; beyond it, Evict drops those
//     of the entries least recently used (subscribed to or left);
//   - while there is room, entries without an SVID are minted ahead of
//     need, most recently used first, so an agent with fewer entries than
//     the limit holds an SVID for each, as before;
//   - rotation renews only the SVIDs held.
//
// SPIRE's agent approximates "a connected workload matches" by "a
// subscriber shares one of the entry's selectors"; here it is exact.

// pinned returns the records a live subscription matches. The caller holds
// c.mu.
func (c *Cache) pinned() map[*record]struct{} {
	out := make(map[*record]struct{})
	for s := range c.subs {
		c.eachMatch(s.sels, func(r *record) { out[r] = struct{}{} })
	}
	return out
}

// Evict drops the SVIDs of the least recently used entries that no
// connected workload matches until at most X509SVIDCacheMaxSize are held,
// and returns how many it dropped. The agent calls it before each minting
// round. A dropped SVID is minted again when a workload asks for it.
func (c *Cache) Evict() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.held) <= c.maxSVIDs {
		return 0
	}
	pinned := c.pinned()
	var cands []*record
	for r := range c.held {
		if _, ok := pinned[r]; !ok {
			cands = append(cands, r)
		}
	}
	slices.SortFunc(cands, func(a, b *record) int {
		if d := a.lastUsed.Compare(b.lastUsed); d != 0 {
			return d
		}
		return strings.Compare(a.entry.ID, b.entry.ID)
	})
	n := 0
	for _, r := range cands {
		if len(c.held) <= c.maxSVIDs {
			break
		}
		r.svid, r.svidID = nil, spiffeid.ID{}
		delete(c.held, r)
		n++
	}
	if n > 0 {
		// No subscriber matches an evicted entry, so none is notified;
		// only the memoized updates change.
		c.changed()
	}
	return n
}

// StaleEntries returns the entries to mint for at now, most urgent first:
// those a connected workload matches that hold no SVID; then those whose
// SVID is held and was minted for an older revision of the entry or reached
// half its lifetime; then, while fewer than X509SVIDCacheMaxSize SVIDs are
// held, entries without one, most recently used first. Within the first
// two groups entries are ordered by ID.
func (c *Cache) StaleEntries(now time.Time) []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	pinned := c.pinned()
	var urgent, due []Entry
	for r := range pinned {
		if r.svid == nil {
			urgent = append(urgent, r.entry)
		}
	}
	for r := range c.held {
		if r.svid.entryRevision != r.entry.RevisionNumber ||
			RotationDue(r.svid.notBefore, r.svid.notAfter, r.svid.mintedAt, now) {
			due = append(due, r.entry)
		}
	}
	byID := func(a, b Entry) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(urgent, byID)
	slices.SortFunc(due, byID)
	out := append(urgent, due...)

	room := c.maxSVIDs - len(c.held) - len(urgent)
	if room <= 0 {
		return out
	}
	var ahead []*record
	for _, r := range c.records {
		if _, ok := pinned[r]; !ok && r.svid == nil {
			ahead = append(ahead, r)
		}
	}
	slices.SortFunc(ahead, func(a, b *record) int {
		if d := b.lastUsed.Compare(a.lastUsed); d != 0 {
			return d
		}
		return strings.Compare(a.entry.ID, b.entry.ID)
	})
	for _, r := range ahead[:min(room, len(ahead))] {
		out = append(out, r.entry)
	}
	return out
}

// SVIDCount returns the number of X.509-SVIDs held.
func (c *Cache) SVIDCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}
