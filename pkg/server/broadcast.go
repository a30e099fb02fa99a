package server

import "sync"

// broadcast wakes every waiter at once: waiters take the current channel
// with wait and block on it; notify closes it and installs a fresh one.
// Taking the channel before reading the state it guards means no change
// can slip between the read and the wait.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed by the next notify.
func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// notify wakes every current waiter.
func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
