package server

import (
	"context"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// notifiedCheckInterval is how long the caches trust what they hold
// without reading the store's revisions, on a store that announces its
// changes (datastore.ChangeNotifier), and how often watchStore re-reads
// them for held syncs: a safety net for an announcement lost with
// PostgreSQL's listening connection, and the time within which a write
// through an SQLite handle of another process (Shared: tests and tools
// beside the server) is seen. Idle, a server then reads three revisions a
// second, whatever the number of agents.
const notifiedCheckInterval = time.Second

// storeCheckInterval is the caches' maxAge for a store with the given
// announcer (nil: none).
func storeCheckInterval(n datastore.ChangeNotifier) time.Duration {
	if n == nil {
		return revisionCheckInterval
	}
	return notifiedCheckInterval
}

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
// announces changes (PostgreSQL's LISTEN/NOTIFY, SQLite's own writes) it
// re-reads the entries, bundles and agents revisions on each
// announcement, and every notifiedCheckInterval as a safety net; on any
// other store every revisionCheckInterval while syncs are held. The
// authority's bundle announcements count too. On an announcing store
// (several servers), a change of the stored bundle also makes the
// authority take it up (bundleFollow). It returns nil when ctx is done.
func (d *deps) watchStore(ctx context.Context) error {
	var authorityChanged, storeChanged <-chan struct{}
	if s, ok := d.cfg.Authority.(bundleSubscriber); ok {
		ch, cancel := s.SubscribeBundle()
		defer cancel()
		authorityChanged = ch
	}
	if d.notifier != nil {
		ch, cancel := d.notifier.SubscribeChanges()
		defer cancel()
		storeChanged = ch
	}
	var follow bundleFollow
	// An authority that does not announce its bundle is compared every
	// revisionCheckInterval, in memory: the store's revisions are read
	// only when the caches' maxAge passed.
	interval := storeCheckInterval(d.notifier)
	if authorityChanged == nil {
		interval = revisionCheckInterval
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
			d.auth.agents.recheck()
			// Wake the held syncs before following the stored bundle:
			// that check is one more database round trip, and on a busy
			// database each one showed in the propagation tail.
			if d.cache.waiters.Load() > 0 {
				d.recheckHeld(ctx)
			}
			follow.check(ctx, d)
			continue
		case <-t.C:
			if d.cache.waiters.Load() == 0 {
				continue
			}
		}
		d.recheckHeld(ctx)
	}
}

// recheckHeld reads what held syncs wait on, so that a change ends them.
// Errors surface to the held calls themselves when they reload.
func (d *deps) recheckHeld(ctx context.Context) {
	_, _ = d.cache.snapshot(ctx)
	_, _ = d.bundles.snapshot(ctx)
	_ = d.auth.agents.check(ctx)
}
