package registrar

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// outcome is what became of one ClusterSPIFFEID's entry for one pod.
type outcome uint8

const (
	outcomeSet outcome = iota
	outcomeMasked
	outcomeRenderFailure
	outcomeEntryFailure
)

// counts are one ClusterSPIFFEID's pod counters.
type counts struct {
	selected, set, masked, renderFailures, entryFailures int
}

func (c *counts) add(o outcome, n int) {
	c.selected += n
	switch o {
	case outcomeSet:
		c.set += n
	case outcomeMasked:
		c.masked += n
	case outcomeRenderFailure:
		c.renderFailures += n
	case outcomeEntryFailure:
		c.entryFailures += n
	}
}

// stats keeps every pod's outcomes and their per-resource sums, updated
// per pod, so a status is written without visiting every pod.
type stats struct {
	mu     sync.Mutex
	pods   map[string]map[string]outcome // pod UID → resource name → outcome
	counts map[string]*counts            // resource name → sums
}

func newStats() *stats {
	return &stats{pods: make(map[string]map[string]outcome), counts: make(map[string]*counts)}
}

// setPod replaces a pod's outcomes and returns the resources whose sums
// changed.
func (st *stats) setPod(uid string, now map[string]outcome) []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.pods[uid]
	var changed []string
	for name, o := range old {
		if n, ok := now[name]; ok && n == o {
			continue
		}
		st.counter(name).add(o, -1)
		changed = append(changed, name)
	}
	for name, o := range now {
		if p, ok := old[name]; ok && p == o {
			continue
		}
		st.counter(name).add(o, 1)
		if !slices.Contains(changed, name) {
			changed = append(changed, name)
		}
	}
	if len(now) == 0 {
		delete(st.pods, uid)
	} else {
		st.pods[uid] = now
	}
	return changed
}

func (st *stats) counter(name string) *counts {
	c := st.counts[name]
	if c == nil {
		c = &counts{}
		st.counts[name] = c
	}
	return c
}

// get returns a resource's sums.
func (st *stats) get(name string) counts {
	st.mu.Lock()
	defer st.mu.Unlock()
	if c := st.counts[name]; c != nil {
		return *c
	}
	return counts{}
}

// statsChanged enqueues the status of each named resource.
func (s *session) statsChanged(names []string) {
	for _, n := range names {
		s.add(key{kind: kindStatus, name: n})
	}
}

// writeStatus patches a ClusterSPIFFEID's status when it differs from
// what the resource shows, so an unchanged registrar writes nothing.
func (s *session) writeStatus(ctx context.Context, name string) error {
	if s.r.inf.spiffeIDs == nil {
		return nil
	}
	obj, exists, _ := s.r.inf.spiffeIDs.GetStore().GetByKey(name)
	if !exists {
		return nil
	}
	c := obj.(*v1alpha1.ClusterSPIFFEID)
	if !render.ClassMatches(c.Spec.ClassName, s.r.cfg.ClassName, s.r.cfg.WatchClassless) {
		return nil
	}
	compiled := render.CompileClusterSPIFFEID(c)
	want := v1alpha1.ClusterSPIFFEIDStatus{Stats: s.namespaceStats(compiled), Warnings: compiled.Warnings}
	n := s.stats.get(name)
	want.Stats.PodsSelected = n.selected
	want.Stats.PodEntryRenderFailures = n.renderFailures
	want.Stats.EntriesMasked = n.masked
	want.Stats.EntriesToSet = n.set + n.entryFailures
	want.Stats.EntryFailures = n.entryFailures
	if c.Status.Stats == want.Stats && slices.Equal(c.Status.Warnings, want.Warnings) {
		return nil
	}
	return s.patchStatus(ctx, v1alpha1.ClusterSPIFFEIDResource.Resource, name, want)
}

// namespaceStats counts the namespaces c selects, those ignored apart.
func (s *session) namespaceStats(compiled *render.ClusterSPIFFEID) v1alpha1.ClusterSPIFFEIDStats {
	var st v1alpha1.ClusterSPIFFEIDStats
	for _, o := range s.r.inf.namespaces.GetStore().List() {
		ns := o.(*corev1.Namespace)
		if !compiled.SelectsNamespace(ns) {
			continue
		}
		if s.r.ignored[ns.Name] {
			st.NamespacesIgnored++
		} else {
			st.NamespacesSelected++
		}
	}
	return st
}

// patchStatus merge-patches the status subresource of a cluster-scoped
// resource. A resource deleted meanwhile is not an error.
func (s *session) patchStatus(ctx context.Context, resource, name string, status any) error {
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return fmt.Errorf("status of %s %s: %w", resource, name, err)
	}
	err = s.r.clients.spire.Patch(types.MergePatchType).Resource(resource).Name(name).SubResource("status").
		Body(body).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("status of %s %s: %w", resource, name, err)
	}
	return nil
}
