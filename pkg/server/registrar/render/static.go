package render

import (
	"errors"
	"fmt"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// StaticSource identifies a ClusterStaticEntry for masking.
func StaticSource(c *v1alpha1.ClusterStaticEntry) Source {
	return Source{Kind: "ClusterStaticEntry", Name: c.Name, Created: c.CreationTimestamp.Time}
}

// Static renders a ClusterStaticEntry's entry.
func (r *Renderer) Static(c *v1alpha1.ClusterStaticEntry) (*datastore.Entry, error) {
	sp := &c.Spec
	if sp.StoreSVID {
		return nil, errors.New("storeSVID: svidkit has no SVIDStore plugin")
	}
	sels := make([]selector.Selector, 0, len(sp.Selectors))
	for i, s := range sp.Selectors {
		sel, err := selector.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("selectors[%d]: %w", i, err)
		}
		sels = append(sels, sel)
	}
	e := &datastore.Entry{
		SPIFFEID:      sp.SPIFFEID,
		ParentID:      sp.ParentID,
		Selectors:     selector.NewSet(sels...),
		X509SVIDTTL:   seconds(sp.X509SVIDTTL),
		JWTSVIDTTL:    seconds(sp.JWTSVIDTTL),
		DNSNames:      dedup(sp.DNSNames),
		Hint:          sp.Hint,
		Admin:         sp.Admin,
		Downstream:    sp.Downstream,
		FederatesWith: federatesWith(sp.FederatesWith),
	}
	if err := r.cfg.Validate(e); err != nil {
		return nil, err
	}
	return e, nil
}
