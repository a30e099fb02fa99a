package registrar

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// reconcilePod makes the registrar's entries for the pod with uid what
// the ClusterSPIFFEIDs render for it now: none when the pod is gone,
// unscheduled or in an ignored namespace.
func (s *session) reconcilePod(ctx context.Context, uid string) error {
	want, outcomes, ok := s.desiredPod(uid)
	if !ok {
		return nil // the pod's node is not known yet; its add event re-enqueues
	}
	s.mu.Lock()
	have := slices.Clone(s.pods[uid])
	s.mu.Unlock()

	now, created, failed, err := s.apply(ctx, have, want, s.r.cfg.podOwner())
	for _, c := range failed {
		outcomes[c.Source.Name] = outcomeEntryFailure
	}
	s.mu.Lock()
	if len(now) == 0 {
		delete(s.pods, uid)
	} else {
		s.pods[uid] = now
	}
	s.mu.Unlock()
	s.statsChanged(s.stats.setPod(uid, outcomes))
	if created > 0 || len(want) == 0 {
		s.r.seenMu.Lock()
		first, seen := s.r.seen[uid]
		delete(s.r.seen, uid)
		s.r.seenMu.Unlock()
		if seen && created > 0 {
			s.r.metrics.podLatency.Observe(time.Since(first).Seconds())
		}
	}
	return err
}

// desiredPod renders the entries the pod with uid should have and each
// selecting ClusterSPIFFEID's outcome for it. ok is false when the pod's
// node is not in the cache yet (nothing should change until it is).
func (s *session) desiredPod(uid string) (want []render.Candidate, outcomes map[string]outcome, ok bool) {
	outcomes = make(map[string]outcome)
	objs, _ := s.r.inf.pods.GetIndexer().ByIndex(podUIDIndex, uid)
	if len(objs) == 0 || s.r.inf.spiffeIDs == nil {
		return nil, outcomes, true
	}
	pod := objs[0].(*corev1.Pod)
	// A terminating pod keeps its entries until it is deleted: its
	// containers may still need their SVIDs.
	if pod.Spec.NodeName == "" || s.r.ignored[pod.Namespace] {
		return nil, outcomes, true
	}
	nsObj, exists, _ := s.r.inf.namespaces.GetStore().GetByKey(pod.Namespace)
	if !exists {
		return nil, outcomes, true
	}
	ns := nsObj.(*corev1.Namespace)
	nodeObj, exists, _ := s.r.inf.nodes.GetStore().GetByKey(pod.Spec.NodeName)
	if !exists {
		return nil, nil, false
	}
	node := nodeObj.(*corev1.Node)

	var selected, fallbacks []*render.ClusterSPIFFEID
	for _, c := range s.r.spiffeIDs() {
		if !c.SelectsNamespace(ns) || !c.SelectsPod(pod) {
			continue
		}
		if c.Fallback {
			fallbacks = append(fallbacks, c)
		} else {
			selected = append(selected, c)
		}
	}
	if len(selected) == 0 {
		selected = fallbacks
	}
	var cands []render.Candidate
	services := s.r.inf.serviceNames(uid)
	for _, c := range selected {
		e, err := s.r.renderer.Pod(c, pod, node, services)
		if err != nil {
			outcomes[c.Source.Name] = outcomeRenderFailure
			s.r.metrics.renderFailures.WithLabelValues(c.Source.Kind, c.Source.Name).Inc()
			s.r.log.Warn("registrar: entry does not render", "clusterspiffeid", c.Source.Name,
				"pod", pod.Namespace+"/"+pod.Name, "error", err)
			continue
		}
		outcomes[c.Source.Name] = outcomeSet
		cands = append(cands, render.Candidate{Entry: e, Source: c.Source})
	}
	set, masked := render.Mask(cands)
	for _, m := range masked {
		outcomes[m.Source.Name] = outcomeMasked
	}
	return set, outcomes, true
}

// apply writes the difference between have (the registrar's entries,
// with IDs) and want: entries with the same uniqueness key are updated in
// place when their content differs, new keys are created (before the
// old ones are deleted, so a workload is never left without an entry),
// and the rest deleted. It returns the entries now stored, how many were
// created, the candidates that could not be written, and the write
// errors. Every failed write is an error, so the key is retried with
// backoff: a transient one (datastore.ErrUnavailable) heals by itself,
// and a refused entry (a foreign entry with the same identity, a
// federated trust domain without a bundle) can be accepted later without
// any Kubernetes event, once that entry is deleted or the bundle fetched.
func (s *session) apply(ctx context.Context, have []*datastore.Entry, want []render.Candidate, owner string) (now []*datastore.Entry, created int, failed []render.Candidate, err error) {
	byKey := make(map[string]*datastore.Entry, len(have))
	for _, e := range have {
		byKey[render.Key(e)] = e
	}
	store := s.r.cfg.Store
	var errs []error
	for _, c := range want {
		k := render.Key(c.Entry)
		cur, exists := byKey[k]
		delete(byKey, k)
		switch {
		case exists && render.Equal(cur, c.Entry):
			now = append(now, cur)
		case exists:
			upd := *c.Entry
			upd.ID = cur.ID
			out, err := store.UpdateEntry(ctx, &upd)
			s.countWrite("update", err)
			if err != nil {
				now = append(now, cur)
				failed = append(failed, c)
				errs = append(errs, fmt.Errorf("update entry %s for %s: %w", cur.ID, c.Source.Name, err))
				continue
			}
			now = append(now, out)
		default:
			e := *c.Entry
			e.Owner = owner
			out, err := store.CreateEntry(ctx, &e)
			s.countWrite("create", err)
			if err != nil {
				failed = append(failed, c)
				errs = append(errs, fmt.Errorf("create entry %s for %s %s: %w", c.Entry.SPIFFEID, c.Source.Kind, c.Source.Name, err))
				continue
			}
			created++
			now = append(now, out)
		}
	}
	for _, e := range have {
		if _, stale := byKey[render.Key(e)]; !stale {
			continue
		}
		_, err := store.DeleteEntry(ctx, e.ID)
		s.countWrite("delete", err)
		if err != nil && !errors.Is(err, datastore.ErrNotFound) {
			now = append(now, e)
			errs = append(errs, fmt.Errorf("delete entry %s: %w", e.ID, err))
		}
	}
	return now, created, failed, errors.Join(errs...)
}

// countWrite counts one entry write and keeps entries_owned current.
func (s *session) countWrite(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	s.r.metrics.writes.WithLabelValues(op, result).Inc()
	if err != nil {
		return
	}
	switch op {
	case "create":
		s.r.metrics.entriesOwned.Inc()
	case "delete":
		s.r.metrics.entriesOwned.Dec()
	}
}
