package registrar

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/workqueue"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// kind is what a queue key reconciles.
type kind uint8

const (
	kindPod        kind = iota // one pod, by UID
	kindStatic                 // every ClusterStaticEntry
	kindFederation             // every ClusterFederatedTrustDomain
	kindStatus                 // one ClusterSPIFFEID's status, by name
)

func (k kind) String() string {
	return [...]string{"pod", "static", "federation", "status"}[k]
}

// key is one unit of work; the queue never runs two equal keys at once.
type key struct {
	kind kind
	name string
}

// A key whose reconciliation failed is retried after retryBase, doubling
// per failure up to retryMax, so an entry appears at most retryMax after
// the datastore heals or stops refusing it. Unlike client-go's default
// controller rate limiter there is no overall token bucket (10 retries/s,
// which would space 30,000 pods failing in a PostgreSQL restart over 50
// minutes) and the cap is not 1,000 s (the ~15-minute registration
// delays of spire-controller-manager's users): the writes go to the
// server's own datastore, and a failing write is cheap.
const (
	retryBase = 50 * time.Millisecond
	retryMax  = 30 * time.Second
)

// session is one leadership: the queue and the registrar's view of its
// own entries. It ends when leadership does.
type session struct {
	r     *Registrar
	queue workqueue.TypedRateLimitingInterface[key]

	mu sync.Mutex
	// pods maps a pod UID to the registrar's entries for it.
	pods map[string][]*datastore.Entry
	// static are the registrar's ClusterStaticEntry entries.
	static []*datastore.Entry
	// stats aggregates pod outcomes per ClusterSPIFFEID.
	stats *stats
	// deletedFeds are ClusterFederatedTrustDomains deleted since the last
	// federation reconciliation.
	deletedFeds []*v1alpha1.ClusterFederatedTrustDomain
	// warned remembers the resources whose warnings were logged, by name
	// and generation.
	warned map[string]int64
}

func newSession(r *Registrar) *session {
	return &session{
		r: r,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[key](retryBase, retryMax),
			workqueue.TypedRateLimitingQueueConfig[key]{Name: "registrar"}),
		stats:  newStats(),
		warned: make(map[string]int64),
	}
}

// add enqueues k.
func (s *session) add(k key) {
	if k.kind == kindStatus {
		s.queue.AddAfter(k, s.r.cfg.StatusDelay)
	} else {
		s.queue.Add(k)
	}
	s.r.metrics.queueDepth.Set(float64(s.queue.Len()))
}

// run loads the registrar's entries, enqueues everything and reconciles
// until ctx ends, re-reading the entries and re-enqueueing everything
// every ResyncInterval.
func (s *session) run(ctx context.Context) error {
	defer s.queue.ShutDown()
	if err := s.load(ctx); err != nil {
		return err
	}
	s.enqueueAll()
	var wg sync.WaitGroup
	for range s.r.cfg.Workers {
		wg.Go(func() {
			for s.next(ctx) {
			}
		})
	}
	defer wg.Wait()
	tick := time.NewTicker(s.r.cfg.ResyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.queue.ShutDown()
			return nil
		case <-tick.C:
			if err := s.load(ctx); err != nil {
				s.r.log.Error("registrar resync: read entries", "error", err)
				continue
			}
			s.enqueueAll()
		}
	}
}

// load reads the registrar's own entries from the datastore, retrying
// until it succeeds or ctx ends.
func (s *session) load(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		pods, err := s.r.cfg.Store.ListEntries(ctx, datastore.EntryFilter{Owner: s.r.cfg.podOwner()})
		var static []*datastore.Entry
		if err == nil {
			static, err = s.r.cfg.Store.ListEntries(ctx, datastore.EntryFilter{Owner: s.r.cfg.staticOwner()})
		}
		if err == nil {
			byPod := make(map[string][]*datastore.Entry)
			for _, e := range pods {
				uid := podUID(e)
				byPod[uid] = append(byPod[uid], e)
			}
			s.mu.Lock()
			s.pods, s.static = byPod, static
			s.mu.Unlock()
			s.r.metrics.entriesOwned.Set(float64(len(pods) + len(static)))
			return nil
		}
		s.r.log.Error("registrar: read own entries", "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("registrar: read own entries: %w", err)
		case <-time.After(min(time.Duration(attempt+1)*time.Second, 30*time.Second)):
		}
	}
}

// podUID returns the pod UID of a registrar pod entry's k8s:pod-uid
// selector ("" if it has none).
func podUID(e *datastore.Entry) string {
	for _, sel := range e.Selectors {
		if sel.Type == "k8s" {
			if uid, ok := strings.CutPrefix(sel.Value, render.PodUIDSelector+":"); ok {
				return uid
			}
		}
	}
	return ""
}

// enqueueAll enqueues every pod in the cache, every pod with entries,
// the static entries, the federation relationships and every status.
func (s *session) enqueueAll() {
	for _, o := range s.r.inf.pods.GetStore().List() {
		s.add(key{kind: kindPod, name: string(o.(*corev1.Pod).UID)})
	}
	s.mu.Lock()
	uids := make([]string, 0, len(s.pods))
	for uid := range s.pods {
		uids = append(uids, uid)
	}
	hasStatic := len(s.static) > 0
	s.mu.Unlock()
	for _, uid := range uids {
		s.add(key{kind: kindPod, name: uid})
	}
	if s.r.inf.staticEntries != nil || hasStatic {
		s.add(key{kind: kindStatic})
	}
	if s.r.inf.federations != nil {
		s.add(key{kind: kindFederation})
	}
	s.r.enqueueAllStatus()
}

// next reconciles one key; false when the queue is shut down.
func (s *session) next(ctx context.Context) bool {
	k, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(k)
	s.r.metrics.queueDepth.Set(float64(s.queue.Len()))
	start := time.Now()
	var err error
	switch k.kind {
	case kindPod:
		err = s.reconcilePod(ctx, k.name)
	case kindStatic:
		err = s.reconcileStatic(ctx)
	case kindFederation:
		err = s.reconcileFederation(ctx)
	case kindStatus:
		err = s.writeStatus(ctx, k.name)
	}
	s.r.metrics.reconcile.WithLabelValues(k.kind.String()).Observe(time.Since(start).Seconds())
	if err != nil && ctx.Err() == nil {
		// A key's first failure is a warning; its retries, every
		// retryMax at most while the cause lasts, log at debug level
		// (the entry failure counts in the resource's status and
		// svidkit_registrar_entry_writes_total).
		level := slog.LevelWarn
		if s.queue.NumRequeues(k) > 0 {
			level = slog.LevelDebug
		}
		s.r.log.Log(ctx, level, "registrar reconcile failed; retrying", "kind", k.kind.String(), "key", k.name,
			"retry", s.queue.NumRequeues(k)+1, "error", err)
		s.queue.AddRateLimited(k)
		return true
	}
	s.queue.Forget(k)
	return true
}
