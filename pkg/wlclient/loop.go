package wlclient

import (
	"context"
	"log/slog"
	"time"

	"github.com/svidkit/svidkit/pkg/backoff"
)

// Loop runs Workload API sessions one after another until its context
// ends. A session ends, and a new one with a fresh connection starts, when
// the socket is recreated (Reconnect) or when the session fails on its own;
// after a failure the next one waits a delay of Backoff, cut short by
// Reconnect.
type Loop struct {
	// Session runs one session over its own connection until ctx ends or
	// it fails. Its error is logged.
	Session func(ctx context.Context) error
	// Reconnect signals that the Workload API socket was recreated:
	// the running session is ended, a new one starts at once and the
	// backoff starts again from Min. Usually a sockwatch.Watcher's
	// Changed(); nil when there is no socket to watch.
	Reconnect <-chan struct{}
	// Backoff bounds the delays between failed sessions.
	Backoff Backoff
	// Address names the Workload API in log messages.
	Address string
	// Log receives a warning for each failed session. Default: discard.
	Log *slog.Logger
}

// Run runs sessions until ctx ends and returns nil then.
func (l *Loop) Run(ctx context.Context) error {
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bo := backoff.New(l.Backoff.Min, l.Backoff.Max)
	for {
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- l.Session(sctx) }()
		var err error
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case <-l.Reconnect:
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
		log.Warn("Workload API session ended; retrying", "workload_api", l.Address, "error", err, "retry_in", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-l.Reconnect:
			t.Stop()
			bo.Reset()
		case <-t.C:
		}
	}
}
