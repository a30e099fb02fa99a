package legacydb_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// querier runs a query on one connection every queryEvery until stopped,
// and records the first failure, including a change of backend.
type querier struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	n      int
	first  error
}

func startQuerying(conn *pgx.Conn, backendPID int) *querier {
	ctx, cancel := context.WithCancel(context.Background())
	q := &querier{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(q.done)
		tick := time.NewTicker(queryEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			info, err := querySSL(ctx, conn)
			if ctx.Err() != nil {
				return
			}
			if err == nil && info.backendPID != backendPID {
				err = errors.New("query answered by another backend")
			}
			q.mu.Lock()
			if err != nil && q.first == nil {
				q.first = err
			}
			if err == nil {
				q.n++
			}
			q.mu.Unlock()
		}
	}()
	return q
}

func (q *querier) stop() {
	q.once.Do(func() {
		q.cancel()
		<-q.done
	})
}

func (q *querier) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

func (q *querier) err() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.first
}
