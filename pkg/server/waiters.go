package server

import (
	"iter"
	"sync"
)

// waiters wakes only the waiters a change concerns: each waiter registers
// under the keys whose change it waits for (the parent IDs its authorized
// set was computed from, its agent ID), and a change wakes the waiters
// registered under its keys. Held syncs use it so that a write for one
// agent costs one re-evaluation, not one per held sync, as a broadcast
// would (see broadcast, kept for the bundles, which concern every agent).
//
// A waiter is woken at most once: its channel is closed and it leaves the
// registry. To wait for the next change it registers again, after reading
// the state it waits on; a registration that may have missed a change is
// woken at once by its owner (see entryCache.watch).
type waiters struct {
	mu    sync.Mutex
	byKey map[string]map[*waiter]struct{}
	all   map[*waiter]struct{}
}

// waiter is one registration in a waiters.
type waiter struct {
	ch   chan struct{}
	keys []string
	// done says the waiter was woken or cancelled; guarded by the
	// registry's mu.
	done bool
}

// wokenWaiter returns a waiter that is already woken, for a registration
// whose state is already stale.
func wokenWaiter() *waiter {
	w := &waiter{ch: make(chan struct{}), done: true}
	close(w.ch)
	return w
}

// woken returns a channel closed when the waiter is woken.
func (w *waiter) woken() <-chan struct{} { return w.ch }

// add registers a waiter under keys and returns it. A waiter without keys
// is woken only by wakeAll.
func (r *waiters) add(keys iter.Seq[string]) *waiter {
	w := &waiter{ch: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.all == nil {
		r.all = make(map[*waiter]struct{})
		r.byKey = make(map[string]map[*waiter]struct{})
	}
	r.all[w] = struct{}{}
	for k := range keys {
		set := r.byKey[k]
		if set == nil {
			set = make(map[*waiter]struct{})
			r.byKey[k] = set
		}
		if _, dup := set[w]; !dup {
			set[w] = struct{}{}
			w.keys = append(w.keys, k)
		}
	}
	return w
}

// cancel removes the waiter if it was not woken; its owner stops waiting.
// Cancelling twice, or after the wake, does nothing.
func (r *waiters) cancel(w *waiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !w.done {
		r.remove(w)
	}
}

// wake wakes the waiters registered under any of keys and returns how
// many it woke.
func (r *waiters) wake(keys iter.Seq[string]) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k := range keys {
		for w := range r.byKey[k] {
			r.fire(w)
			n++
		}
	}
	return n
}

// wakeAll wakes every waiter and returns how many it woke: a change whose
// extent is unknown.
func (r *waiters) wakeAll() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for w := range r.all {
		r.fire(w)
		n++
	}
	return n
}

// fire removes a registered waiter and wakes it; the caller holds r.mu.
func (r *waiters) fire(w *waiter) {
	r.remove(w)
	close(w.ch)
}

// len returns the number of registered waiters.
func (r *waiters) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

// remove takes w out of the registry; the caller holds r.mu. Deleting
// from a map while ranging over it is safe in Go, which wake relies on.
func (r *waiters) remove(w *waiter) {
	w.done = true
	delete(r.all, w)
	for _, k := range w.keys {
		set := r.byKey[k]
		delete(set, w)
		if len(set) == 0 {
			delete(r.byKey, k)
		}
	}
}
