package datastore

import "sync"

// Announcer fans change announcements out to ChangeNotifier subscribers:
// each subscription is a channel of size one, so that bursts collapse and
// Announce never blocks. The zero value is ready to use.
type Announcer struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// Subscribe returns a channel that receives after each Announce, and a
// function, safe to call more than once, that ends the subscription.
func (a *Announcer) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	a.mu.Lock()
	if a.subs == nil {
		a.subs = make(map[chan struct{}]struct{})
	}
	a.subs[ch] = struct{}{}
	a.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			a.mu.Lock()
			delete(a.subs, ch)
			a.mu.Unlock()
		})
	}
}

// Announce wakes every subscriber without blocking.
func (a *Announcer) Announce() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ch := range a.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
