package federation

import (
	"context"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// worker refreshes one relationship's bundle until cancelled.
type worker struct {
	rel    relationship
	cancel context.CancelFunc
	done   chan struct{}
}

// Run keeps one refresher per relationship until ctx ends, re-reading the
// relationships on RelationshipsChanged and every ResyncInterval, then
// stops every refresher and returns nil.
func (m *Manager) Run(ctx context.Context) error {
	workers := make(map[spiffeid.TrustDomain]*worker)
	var wg sync.WaitGroup
	defer func() {
		for _, w := range workers {
			w.cancel()
		}
		wg.Wait()
	}()
	t := time.NewTicker(m.cfg.ResyncInterval)
	defer t.Stop()
	for {
		rels, err := m.relationships(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			m.cfg.Log.Warn("federation relationships not re-read; keeping the current ones", "error", err)
		} else {
			m.reconcile(ctx, workers, rels, &wg)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.changed:
		case <-t.C:
		}
	}
}

// reconcile starts a worker for each new or changed relationship and
// stops those of relationships gone or changed.
func (m *Manager) reconcile(ctx context.Context, workers map[spiffeid.TrustDomain]*worker, rels map[spiffeid.TrustDomain]relationship, wg *sync.WaitGroup) {
	for td, w := range workers {
		if r, ok := rels[td]; ok && r.sameEndpoint(w.rel) {
			continue
		}
		w.cancel()
		<-w.done
		delete(workers, td)
		m.cfg.Log.Info("stopped refreshing federated bundle", "trust_domain", td.Name())
	}
	m.forget(rels)
	for td, r := range rels {
		if _, ok := workers[td]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{rel: r, cancel: cancel, done: make(chan struct{})}
		workers[td] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(w.done)
			m.refreshLoop(wctx, r)
		}()
		m.cfg.Log.Info("refreshing federated bundle", "trust_domain", td.Name(), "url", r.url,
			"profile", r.profile, "static", r.static)
	}
}

// refreshLoop fetches rel's bundle at once and then whenever refresh
// says, until ctx ends.
func (m *Manager) refreshLoop(ctx context.Context, rel relationship) {
	for ctx.Err() == nil {
		wait, _ := m.refresh(ctx, rel) // refresh logs and counts failures
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
