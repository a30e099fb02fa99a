package server

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// revisionCheckInterval bounds how often the caches ask a store that does
// not announce its writes whether entries, bundles or agents changed.
// Writes through this server are seen at once; writes by another server
// process sharing the store are seen within this interval by a polling
// agent's next call; held syncs learn of them from deps.watchStore. On a
// store that announces its writes the caches wait for the announcement
// instead, and re-check every notifiedCheckInterval (storeCheckInterval).
const revisionCheckInterval = 50 * time.Millisecond

// entryCache keeps an in-memory snapshot of every registration entry,
// brought up to date when the store's entries revision changes by reading
// only the entries changed since (see load), so that the hot agent RPCs
// never scan the database. When a new snapshot replaces the current one
// it wakes the held SyncAuthorizedEntries calls whose authorized sets the
// change concerns, and only those (see watch).
type entryCache struct {
	store datastore.Store
	// held are the held syncs, registered under the parent IDs their
	// authorized sets were computed from (authorizedSet.parents).
	held waiters
	// reload is signalled by local writes (invalidate): reloadWrites
	// then loads the new snapshot at once, which wakes the held syncs the
	// write concerns.
	reload chan struct{}
	// waiters counts the held syncs; deps.watchStore polls the store only
	// for them.
	waiters atomic.Int64

	// maxAge is how long a snapshot is trusted without reading the
	// store's revision (see storeCheckInterval).
	maxAge time.Duration

	mu        sync.Mutex
	snap      *entrySnapshot
	checkedAt time.Time
	dirty     bool
	// announced is set by recheck: the store announced a change, so the
	// next snapshot reads the changes at once rather than first asking
	// whether the revision moved, one database round trip less between
	// another server's write and the held syncs it wakes.
	announced bool
}

func newEntryCache(store datastore.Store) *entryCache {
	return &entryCache{store: store, dirty: true, maxAge: revisionCheckInterval, reload: make(chan struct{}, 1)}
}

// invalidate forces the next snapshot call to consult the store, and asks
// reloadWrites to make it now; local writes call it so their effect is
// visible at once, to held syncs too.
func (c *entryCache) invalidate() {
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
	select {
	case c.reload <- struct{}{}:
	default: // a reload is already pending; it reads this write too
	}
}

// reloadWrites loads the snapshot after local writes (invalidate) while
// syncs are held, so that the held syncs a write concerns wake at once.
// It is its own loop rather than a case of deps.watchStore, whose rounds
// read several revisions one after the other. It returns nil when ctx is
// done.
func (c *entryCache) reloadWrites(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.reload:
			if c.waiters.Load() > 0 {
				// Errors surface to the held syncs when they reload.
				_, _ = c.snapshot(ctx)
			}
		}
	}
}

// recheck makes the next snapshot call read the store's revision even
// within maxAge; the store's change notifications call it.
func (c *entryCache) recheck() {
	c.mu.Lock()
	c.checkedAt = time.Time{}
	c.announced = true
	c.mu.Unlock()
}

// watch registers a held sync whose authorized set was computed from
// snap's entry lists of parents: it is woken when a later snapshot
// changes any of those lists, or replaces snap without knowing which
// changed. A snapshot already replaced by the time it registers wakes it
// at once, so no change slips between reading snap and registering: the
// caller re-evaluates. The caller cancels the waiter (c.held.cancel) when
// it stops waiting.
func (c *entryCache) watch(snap *entrySnapshot, parents map[string]bool) *waiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != snap {
		return wokenWaiter()
	}
	return c.held.add(maps.Keys(parents))
}

// snapshot returns a snapshot no older than maxAge.
// Snapshots are immutable and safe to share.
func (c *entryCache) snapshot(ctx context.Context) (*entrySnapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now() // real time: this throttles database access
	if !c.dirty && c.snap != nil && now.Sub(c.checkedAt) < c.maxAge {
		return c.snap, nil
	}
	var rev int64
	if !c.announced || c.snap == nil {
		var err error
		if rev, err = c.store.EntriesRevision(ctx); err != nil {
			return stale(c.snap, &c.checkedAt, now, fmt.Errorf("read entries revision: %w", err))
		}
		if c.snap != nil && !c.dirty && rev == c.snap.revision {
			c.checkedAt = now
			return c.snap, nil
		}
	}
	// With a snapshot, load reads the changes since its revision, which
	// carry the current revision: rev is only needed without one.
	next, touched, err := c.load(ctx, rev)
	if err != nil {
		return stale(c.snap, &c.checkedAt, now, err)
	}
	// Under c.mu, as watch: a held sync registers with the snapshot it
	// read or is woken by its replacement.
	switch {
	case next == c.snap:
	case touched == nil:
		c.held.wakeAll()
	default:
		c.held.wake(maps.Keys(touched))
	}
	c.snap = next
	c.checkedAt = now
	c.dirty = false
	c.announced = false
	return c.snap, nil
}

// entrySnapshot is an immutable view of all entries at one revision, with
// the per-agent authorized sets computed from it memoised. Snapshots share
// the cachedEntry values and byParent lists that did not change between
// them; none is modified once built.
type entrySnapshot struct {
	revision int64
	byID     *shardMap[*cachedEntry]
	// byParent lists the entries of each parent ID, in no set order.
	byParent *shardMap[[]*cachedEntry]

	mu     sync.Mutex
	agents map[string]*authorizedSet

	// parent is the snapshot this one was built from by withChanges,
	// whose memoised sets (and its parents') this one inherits on first
	// use unless they depend on the parent IDs in touched (the entry
	// lists that differ between parent and this); depth counts the
	// parents, bounded by maxInheritDepth. Nil for a snapshot that copied
	// the sets instead, or was read in full.
	parent  *entrySnapshot
	touched map[string]bool
	depth   int
}

// cachedEntry is a stored entry plus its API form and parsed SPIFFE ID,
// converted once.
type cachedEntry struct {
	entry *datastore.Entry
	proto *types.Entry
	// id is the parsed entry.SPIFFEID; idErr says why it did not parse.
	id    spiffeid.ID
	idErr error
}

func newEntrySnapshot(rev int64, entries []*datastore.Entry) *entrySnapshot {
	byID, byParent := editShards[*cachedEntry](nil), editShards[[]*cachedEntry](nil)
	for _, e := range entries {
		ce := newCachedEntry(e)
		byID.set(e.ID, ce)
		list, _ := byParent.get(e.ParentID)
		byParent.set(e.ParentID, append(list, ce))
	}
	return &entrySnapshot{
		revision: rev,
		byID:     byID.done(),
		byParent: byParent.done(),
		agents:   make(map[string]*authorizedSet),
	}
}

// newCachedEntry converts a stored entry once for the snapshots.
func newCachedEntry(e *datastore.Entry) *cachedEntry {
	ce := &cachedEntry{entry: e, proto: protoEntry(e)}
	ce.id, ce.idErr = spiffeid.FromString(e.SPIFFEID)
	return ce
}
