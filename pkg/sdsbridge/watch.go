package sdsbridge

import (
	"context"
	"errors"

	"github.com/svidkit/svidkit/pkg/sds"
)

// ErrStopped is returned by Watch once the bridge's Run has ended.
var ErrStopped = errors.New("sdsbridge: bridge stopped")

// watch is one SDS stream's view of the bridge. Its channel holds at most
// one snapshot: a newer one replaces an unread older one, so a slow stream
// never holds up the others and always gets the newest state.
type watch struct {
	b        *Bridge
	ch       chan *sds.Snapshot
	stopCtx  func() bool // guarded by b.mu
	finished bool        // guarded by b.mu
}

// Watch implements sds.Source. Every stream watches the bridge's own
// workload; the current snapshot, if any, is delivered at once. The watch
// also ends when ctx ends.
func (b *Bridge) Watch(ctx context.Context) (sds.Watch, error) {
	w := &watch{b: b, ch: make(chan *sds.Snapshot, 1)}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return nil, ErrStopped
	}
	b.watches[w] = struct{}{}
	if b.current != nil {
		w.ch <- b.current
	}
	b.metrics.watches.Inc()
	b.mu.Unlock()
	// AfterFunc may run Close at once (ctx already done); stopCtx is set
	// under the lock Close reads it under.
	stop := context.AfterFunc(ctx, w.Close)
	b.mu.Lock()
	w.stopCtx = stop
	b.mu.Unlock()
	return w, nil
}

// Updates implements sds.Watch.
func (w *watch) Updates() <-chan *sds.Snapshot { return w.ch }

// Close implements sds.Watch; it is idempotent.
func (w *watch) Close() {
	w.b.mu.Lock()
	stop := w.stopCtx
	w.end()
	w.b.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// offer replaces any unread snapshot with s. The caller holds b.mu, so
// offer is the only sender and never blocks.
func (w *watch) offer(s *sds.Snapshot) {
	select {
	case <-w.ch:
	default:
	}
	w.ch <- s
}

// end closes the channel once. The caller holds b.mu.
func (w *watch) end() {
	if w.finished {
		return
	}
	w.finished = true
	delete(w.b.watches, w)
	close(w.ch)
	w.b.metrics.watches.Dec()
}
