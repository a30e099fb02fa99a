package sds

import (
	"runtime"
	"sync"
	"weak"
)

// renderCache shares rendered secrets between the streams that serve the
// same snapshot (with the bridge: every stream), so a rotation renders and
// hashes each secret once instead of once per stream. Entries are keyed by
// a weak pointer and dropped when their snapshot is garbage collected, so
// the cache holds no snapshot (and no private key) alive.
type renderCache struct {
	mu      sync.Mutex
	entries map[memoKey]*memo
}

type memoKey struct {
	snap   weak.Pointer[Snapshot]
	spiffe bool
}

// memo holds what one snapshot rendered for one validator choice.
type memo struct {
	mu       sync.Mutex
	byName   map[string]*resource // served names only; see view.lookup
	wildcard []*resource
	wildOK   bool
}

func newRenderCache() *renderCache {
	return &renderCache{entries: make(map[memoKey]*memo)}
}

// view returns the rendering view of snap for the validator choice.
func (c *renderCache) view(snap *Snapshot, n names, spiffe bool) view {
	key := memoKey{snap: weak.Make(snap), spiffe: spiffe}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.entries[key]
	if !ok {
		m = &memo{byName: make(map[string]*resource)}
		c.entries[key] = m
		runtime.AddCleanup(snap, c.drop, key)
	}
	return view{snap: snap, names: n, spiffe: spiffe, memo: m}
}

func (c *renderCache) drop(key memoKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// size reports the number of cached snapshot renderings.
func (c *renderCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
