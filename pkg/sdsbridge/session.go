package sdsbridge

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/sds"
	"github.com/svidkit/svidkit/pkg/wlclient"
)

// session watches the X.509 context over one client connection until ctx
// ends or the watch gives up.
func (b *Bridge) session(ctx context.Context) error {
	client, err := wlclient.New(ctx, b.addr, b.backoff)
	if err != nil {
		return err
	}
	defer client.Close()
	err = client.WatchX509Context(ctx, &x509Watcher{b: b})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("watch X.509 context: %w", err)
}

// x509Watcher publishes each X.509 context update as a snapshot.
type x509Watcher struct{ b *Bridge }

// OnX509ContextUpdate implements workloadapi.X509ContextWatcher.
func (w *x509Watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	s := snapshotOf(c)
	if s == nil {
		w.b.log.Warn("Workload API update without X.509-SVIDs; keeping the last snapshot")
		return
	}
	if w.b.failing.Swap(false) {
		w.b.log.Info("Workload API watch restored", "workload_api", w.b.addr)
	}
	w.b.log.Debug("X.509 context updated", "svids", len(s.SVIDs), "trust_domains", s.Bundles.Len())
	w.b.publish(s)
}

// OnX509ContextWatchError implements workloadapi.X509ContextWatcher. The
// first failure of a run of them is a warning, the repeats (one per retry
// while the agent is away) are debug messages.
func (w *x509Watcher) OnX509ContextWatchError(err error) {
	if status.Code(err) == codes.Canceled {
		return
	}
	w.b.metrics.errors.Inc()
	level := slog.LevelDebug
	if !w.b.failing.Swap(true) {
		level = slog.LevelWarn
	}
	w.b.log.Log(context.Background(), level, "watching the Workload API failed; retrying",
		"workload_api", w.b.addr, "error", err, "serving_last_snapshot", w.b.Current() != nil)
}

// snapshotOf converts an X.509 context, or returns nil when it holds no
// SVID. The workload's trust domain is its first SVID's.
func snapshotOf(c *workloadapi.X509Context) *sds.Snapshot {
	if c == nil || len(c.SVIDs) == 0 || c.Bundles == nil {
		return nil
	}
	s := &sds.Snapshot{
		TrustDomain: c.SVIDs[0].ID.TrustDomain(),
		SVIDs:       make([]sds.SVID, 0, len(c.SVIDs)),
		Bundles:     c.Bundles,
	}
	for _, v := range c.SVIDs {
		s.SVIDs = append(s.SVIDs, sds.SVID{ID: v.ID, Hint: v.Hint, Chain: v.Certificates, Key: v.PrivateKey})
	}
	return s
}
