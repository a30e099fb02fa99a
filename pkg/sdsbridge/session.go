package sdsbridge

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/sds"
)

// watchLoop runs Workload API sessions until ctx ends. A session ends, and
// a new one with a fresh connection starts, when the socket is recreated
// (reconnect) or when the session fails on its own.
func (b *Bridge) watchLoop(ctx context.Context, reconnect <-chan struct{}) error {
	bo := newBackoff(b.minBO, b.maxBO)
	for {
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- b.session(sctx) }()
		var err error
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case <-reconnect:
			cancel()
			<-done
			bo.Reset()
			continue
		case err = <-done:
			cancel()
		}
		if ctx.Err() != nil {
			return nil
		}
		d := bo.Next()
		b.log.Warn("Workload API session ended; retrying", "workload_api", b.addr, "error", err, "retry_in", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-reconnect:
			t.Stop()
			bo.Reset()
		case <-t.C:
		}
	}
}

// session watches the X.509 context over one client connection until ctx
// ends or the watch gives up. gRPC's own reconnect backoff is capped like
// ours so that a returning agent is picked up quickly even without the
// socket watch (tcp:// addresses).
func (b *Bridge) session(ctx context.Context) error {
	client, err := workloadapi.New(ctx,
		workloadapi.WithAddr(b.addr),
		workloadapi.WithBackoffStrategy(backoffStrategy{min: b.minBO, max: b.maxBO}),
		workloadapi.WithDialOptions(grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: grpcbackoff.Config{
				BaseDelay:  b.minBO,
				Multiplier: 2,
				Jitter:     0.2,
				MaxDelay:   b.maxBO,
			},
			MinConnectTimeout: 5 * time.Second,
		})),
	)
	if err != nil {
		return fmt.Errorf("workload API client for %s: %w", b.addr, err)
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
