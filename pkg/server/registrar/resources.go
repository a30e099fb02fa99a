package registrar

import (
	"slices"
	"strconv"
	"strings"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// spiffeIDs returns the compiled ClusterSPIFFEIDs of the registrar's
// class, oldest first. Each is compiled once per spec version
// (generation), so status writes do not recompile it, and its warnings
// are logged once per version.
func (r *Registrar) spiffeIDs() []*render.ClusterSPIFFEID {
	if r.inf.spiffeIDs == nil {
		return nil
	}
	objs := r.inf.spiffeIDs.GetStore().List()
	r.compiledMu.Lock()
	defer r.compiledMu.Unlock()
	out := make([]*render.ClusterSPIFFEID, 0, len(objs))
	live := make(map[string]bool, len(objs))
	for _, o := range objs {
		c := o.(*v1alpha1.ClusterSPIFFEID)
		live[c.Name] = true
		if !render.ClassMatches(c.Spec.ClassName, r.cfg.ClassName, r.cfg.WatchClassless) {
			continue
		}
		version := string(c.UID) + "/" + strconv.FormatInt(c.Generation, 10)
		ce, ok := r.compiled[c.Name]
		if !ok || ce.version != version {
			ce = compiledEntry{version: version, c: render.CompileClusterSPIFFEID(c)}
			r.compiled[c.Name] = ce
			if ce.c.Err != nil {
				r.log.Error("registrar: ClusterSPIFFEID cannot render entries", "clusterspiffeid", c.Name, "error", ce.c.Err)
			}
			for _, w := range ce.c.Warnings {
				r.log.Warn("registrar: ClusterSPIFFEID warning", "clusterspiffeid", c.Name, "warning", w)
			}
		}
		out = append(out, ce.c)
	}
	for name := range r.compiled {
		if !live[name] {
			delete(r.compiled, name)
		}
	}
	slices.SortFunc(out, func(a, b *render.ClusterSPIFFEID) int {
		if c := a.Source.Created.Compare(b.Source.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Source.Name, b.Source.Name)
	})
	return out
}
