package sds

import "sync"

// memos is what a snapshot has rendered, kept on the snapshot itself: the
// streams that serve one snapshot (with the bridge: every stream) share it,
// so a rotation renders and hashes each secret once instead of once per
// stream, and it goes away with the snapshot, holding nothing (no private
// key) alive on its own. It is filled lazily, on the first request for a
// rendering; the zero value is empty and ready.
type memos struct {
	mu sync.Mutex
	m  map[memoKey]*memo
}

// memoKey is what a rendering depends on besides the snapshot: the
// handler's special names and the stream's validator choice.
type memoKey struct {
	names  names
	spiffe bool
}

// memo holds what one snapshot rendered for one memoKey.
type memo struct {
	mu       sync.Mutex
	byName   map[string]*resource // served names only; see view.lookup
	wildcard []*resource
	wildOK   bool
}

// get returns the memo for key, creating it on first use.
func (ms *memos) get(key memoKey) *memo {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m, ok := ms.m[key]
	if !ok {
		if ms.m == nil {
			ms.m = make(map[memoKey]*memo, 1)
		}
		m = &memo{byName: make(map[string]*resource)}
		ms.m[key] = m
	}
	return m
}

// view returns the rendering view of snap for the special names n and the
// validator choice, sharing what earlier views of snap rendered.
func (snap *Snapshot) view(n names, spiffe bool) view {
	return view{snap: snap, names: n, spiffe: spiffe, memo: snap.memos.get(memoKey{names: n, spiffe: spiffe})}
}
