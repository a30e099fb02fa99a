package registrar

import (
	"context"
	"slices"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// reconcileStatic makes the registrar's static entries what the
// ClusterStaticEntries of its class render, and writes each resource's
// status (rendered, masked, set) where it changed.
func (s *session) reconcileStatic(ctx context.Context) error {
	var res []*v1alpha1.ClusterStaticEntry
	if s.r.inf.staticEntries != nil {
		for _, o := range s.r.inf.staticEntries.GetStore().List() {
			c := o.(*v1alpha1.ClusterStaticEntry)
			if render.ClassMatches(c.Spec.ClassName, s.r.cfg.ClassName, s.r.cfg.WatchClassless) {
				res = append(res, c)
			}
		}
	}
	status := make(map[string]*v1alpha1.ClusterStaticEntryStatus, len(res))
	var cands []render.Candidate
	for _, c := range res {
		st := &v1alpha1.ClusterStaticEntryStatus{}
		status[c.Name] = st
		e, err := s.r.renderer.Static(c)
		if err != nil {
			s.r.metrics.renderFailures.WithLabelValues("ClusterStaticEntry", c.Name).Inc()
			s.r.log.Warn("registrar: ClusterStaticEntry does not render", "clusterstaticentry", c.Name, "error", err)
			continue
		}
		st.Rendered = true
		cands = append(cands, render.Candidate{Entry: e, Source: render.StaticSource(c)})
	}
	want, masked := render.Mask(cands)
	for _, m := range masked {
		status[m.Source.Name].Masked = true
	}
	s.mu.Lock()
	have := slices.Clone(s.static)
	s.mu.Unlock()
	now, _, failed, err := s.apply(ctx, have, want, s.r.cfg.staticOwner())
	s.mu.Lock()
	s.static = now
	s.mu.Unlock()
	for _, c := range want {
		status[c.Source.Name].Set = !slices.ContainsFunc(failed, func(f render.Candidate) bool { return f.Source == c.Source })
	}
	for _, c := range res {
		if st := status[c.Name]; *st != c.Status {
			if perr := s.patchStatus(ctx, v1alpha1.ClusterStaticEntryResource.Resource, c.Name, st); perr != nil && err == nil {
				err = perr
			}
		}
	}
	return err
}
