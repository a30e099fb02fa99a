package server

import (
	"context"
	"time"
)

// bundleSubscriber is implemented by authorities that announce changes of
// their bundle, such as *ca.Manager; with one, a rotation reaches held
// syncs at once instead of at the next revision check.
type bundleSubscriber interface {
	SubscribeBundle() (updates <-chan struct{}, cancel func())
}

// watchStore checks the store's entries and bundles revisions (and the
// authority's bundle) every revisionCheckInterval while syncs are held, so
// that writes by anyone, this server process or another one sharing the
// store, end the held syncs they concern. It returns nil when ctx is done.
func (d *deps) watchStore(ctx context.Context) error {
	var authorityChanged <-chan struct{}
	if s, ok := d.cfg.Authority.(bundleSubscriber); ok {
		ch, cancel := s.SubscribeBundle()
		defer cancel()
		authorityChanged = ch
	}
	t := time.NewTicker(revisionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-authorityChanged:
			d.bundles.invalidate()
		case <-t.C:
			if d.cache.waiters.Load() == 0 {
				continue
			}
		}
		// Errors surface to the held calls themselves when they reload.
		_, _ = d.cache.snapshot(ctx)
		_, _ = d.bundles.snapshot(ctx)
	}
}
