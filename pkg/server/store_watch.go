package server

import (
	"context"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// notifiedCheckInterval is how often watchStore re-reads the revisions on
// a store that announces its changes (datastore.ChangeNotifier): only a
// safety net for a notification lost with the store's connection.
const notifiedCheckInterval = time.Second

// bundleSubscriber is implemented by authorities that announce changes of
// their bundle, such as *ca.Manager; with one, a rotation reaches held
// syncs at once instead of at the next revision check.
type bundleSubscriber interface {
	SubscribeBundle() (updates <-chan struct{}, cancel func())
}

// watchStore ends the held syncs that writes concern, writes by anyone:
// this server process or another one sharing the store. On a store that
// announces changes (PostgreSQL's LISTEN/NOTIFY) it re-reads the entries
// and bundles revisions on each announcement, and every
// notifiedCheckInterval as a safety net; on any other store every
// revisionCheckInterval while syncs are held. The authority's bundle
// announcements count too. It returns nil when ctx is done.
func (d *deps) watchStore(ctx context.Context) error {
	var authorityChanged, storeChanged <-chan struct{}
	if s, ok := d.cfg.Authority.(bundleSubscriber); ok {
		ch, cancel := s.SubscribeBundle()
		defer cancel()
		authorityChanged = ch
	}
	interval := revisionCheckInterval
	if n, ok := d.cfg.Store.(datastore.ChangeNotifier); ok {
		ch, cancel := n.SubscribeChanges()
		defer cancel()
		storeChanged = ch
		interval = notifiedCheckInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-authorityChanged:
			d.bundles.invalidate()
		case <-storeChanged:
			d.cache.recheck()
			d.bundles.recheck()
			if d.cache.waiters.Load() == 0 {
				continue
			}
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
