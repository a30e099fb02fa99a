package render

import (
	"slices"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Candidate is an entry and the resource that rendered it.
type Candidate struct {
	Entry  *datastore.Entry
	Source Source
}

// Key is the datastore's uniqueness key of an entry: SPIFFE ID, parent ID
// and selector set.
func Key(e *datastore.Entry) string {
	return e.SPIFFEID + "\x00" + e.ParentID + "\x00" + e.Selectors.Digest()
}

// Mask splits cands into the entries to set and those masked: of the
// candidates with one Key, the oldest resource's wins. Winners come back
// in key order, so the result does not depend on the input's order.
func Mask(cands []Candidate) (set, masked []Candidate) {
	best := make(map[string]int, len(cands))
	for i, c := range cands {
		k := Key(c.Entry)
		j, ok := best[k]
		switch {
		case !ok:
			best[k] = i
		case c.Source.older(cands[j].Source):
			masked = append(masked, cands[j])
			best[k] = i
		default:
			masked = append(masked, c)
		}
	}
	keys := make([]string, 0, len(best))
	for k := range best {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		set = append(set, cands[best[k]])
	}
	return set, masked
}

// ClassMatches reports whether a resource of class objClass is the
// registrar's: the same class, or no class when watchClassless is set.
func ClassMatches(objClass, class string, watchClassless bool) bool {
	return objClass == class || (objClass == "" && watchClassless)
}

// Equal reports whether two entries have the same content (everything the
// registrar sets; IDs, revisions and times are the store's).
func Equal(a, b *datastore.Entry) bool {
	return a.SPIFFEID == b.SPIFFEID && a.ParentID == b.ParentID &&
		slices.Equal(a.Selectors, b.Selectors) &&
		a.X509SVIDTTL == b.X509SVIDTTL && a.JWTSVIDTTL == b.JWTSVIDTTL &&
		slices.Equal(a.DNSNames, b.DNSNames) && a.Hint == b.Hint &&
		a.Admin == b.Admin && a.Downstream == b.Downstream &&
		slices.Equal(a.FederatesWith, b.FederatesWith) && a.ExpiresAt == b.ExpiresAt
}
