package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/backoff"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// changesChannel is the PostgreSQL notification channel that every entry,
// bundle and agent write notifies in its transaction (see revision.go), so that
// PostgreSQL delivers the notification only if the write commits.
const changesChannel = "svidkit_changes"

// Reconnection delays of the listener after PostgreSQL went away.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 5 * time.Second
)

var _ datastore.ChangeNotifier = (*Store)(nil)

// SubscribeChanges announces every committed entry, bundle or agent write, by
// this process or any other on the same database, through PostgreSQL
// LISTEN/NOTIFY. The first subscription starts the listener on a dedicated
// connection outside the pool; it reconnects with backoff when PostgreSQL
// restarts and then announces once, since writes in between went unheard.
func (s *Store) SubscribeChanges() (<-chan struct{}, func()) {
	return s.changes.subscribe()
}

// listener holds the LISTEN connection and fans its notifications out to
// the subscribers.
type listener struct {
	connConfig *pgx.ConnConfig
	log        *slog.Logger

	subs datastore.Announcer

	mu     sync.Mutex
	stop   context.CancelFunc // nil until the first subscription
	done   chan struct{}
	closed bool
}

func newListener(cc *pgx.ConnConfig, log *slog.Logger) *listener {
	return &listener{connConfig: cc, log: log}
}

func (l *listener) subscribe() (<-chan struct{}, func()) {
	ch, cancel := l.subs.Subscribe()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop == nil && !l.closed {
		ctx, cancel := context.WithCancel(context.Background())
		l.stop, l.done = cancel, make(chan struct{})
		go func(done chan struct{}) {
			defer close(done)
			l.run(ctx)
		}(l.done)
	}
	return ch, cancel
}

// close stops the listener and waits for it. Calling it again is harmless.
func (l *listener) close() {
	l.mu.Lock()
	l.closed = true
	stop, done := l.stop, l.done
	l.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// notify wakes every subscriber without blocking.
func (l *listener) notify() { l.subs.Announce() }

// run listens until ctx is done, reconnecting after each failure.
func (l *listener) run(ctx context.Context) {
	b := backoff.NewJittered(listenRetryMin, listenRetryMax)
	for {
		err := l.listen(ctx, b)
		if ctx.Err() != nil {
			return
		}
		d := b.Next()
		l.log.Warn("postgres change listener lost its connection; held syncs fall back to periodic checks until it reconnects", "error", err, "retry_in", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listen connects, subscribes to changesChannel and relays notifications
// until the connection fails or ctx is done.
func (l *listener) listen(ctx context.Context, b *backoff.Backoff) error {
	conn, err := pgx.ConnectConfig(ctx, l.connConfig)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	b.Reset()
	// Writes committed while no connection listened went unannounced.
	l.notify()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		l.notify()
	}
}
