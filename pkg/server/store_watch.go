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

// storedBundleFollower is implemented by authorities that merge the stored
// bundle of their trust domain into their own on each rotation step, such
// as *ca.Manager: with several servers on one store, a server's bundle
// takes up the other servers' authorities when the stored bundle changes,
// so that it trusts the SVIDs they sign.
type storedBundleFollower interface {
	Rotate(ctx context.Context) error
}

// bundleFollow runs the authority's rotation step when the store's bundles
// revision moved since the last call: another server published its
// authorities. Its own publication moves the revision too; the step after
// it finds nothing to merge and writes nothing.
type bundleFollow struct {
	lastRev int64
}

func (f *bundleFollow) check(ctx context.Context, d *deps) {
	r, ok := d.cfg.Authority.(storedBundleFollower)
	if !ok {
		return
	}
	rev, err := d.cfg.Store.BundlesRevision(ctx)
	if err != nil || rev == f.lastRev {
		return // an unreadable store: the CA's own rotation ticks retry
	}
	if err := r.Rotate(ctx); err != nil {
		if ctx.Err() == nil {
			d.cfg.Log.Warn("taking up the stored bundle failed; retrying at the next change or rotation check", "error", err)
		}
		return
	}
	f.lastRev = rev
}

// watchStore ends the held syncs that writes concern, writes by anyone:
// this server process or another one sharing the store. On a store that
// announces changes (PostgreSQL's LISTEN/NOTIFY) it re-reads the entries
// and bundles revisions on each announcement, and every
// notifiedCheckInterval as a safety net; on any other store every
// revisionCheckInterval while syncs are held. The authority's bundle
// announcements count too. On an announcing store (several servers), a
// change of the stored bundle also makes the authority take it up
// (bundleFollow). It returns nil when ctx is done.
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
	var follow bundleFollow
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
			// Wake the held syncs before following the stored bundle:
			// that check is one more database round trip, and on a busy
			// database each one showed in the propagation tail.
			if d.cache.waiters.Load() > 0 {
				_, _ = d.cache.snapshot(ctx)
				_, _ = d.bundles.snapshot(ctx)
			}
			follow.check(ctx, d)
			continue
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
