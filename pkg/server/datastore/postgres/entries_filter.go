package postgres

import (
	"strconv"
	"strings"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// filterSQL turns f into a WHERE condition over entries (empty when f
// filters nothing) and its arguments. Lists travel as arrays (= ANY,
// unnest), so a condition has a fixed number of parameters however many
// selectors or trust domains f holds. The condition is exact, as SQLite's.
func filterSQL(f datastore.EntryFilter) (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.SPIFFEID != "" {
		conds = append(conds, "spiffe_id = "+arg(f.SPIFFEID))
	}
	if f.ParentID != "" {
		conds = append(conds, "parent_id = "+arg(f.ParentID))
	}
	if f.Hint != "" {
		conds = append(conds, "hint = "+arg(f.Hint))
	}
	if f.Owner != "" {
		conds = append(conds, "owner = "+arg(f.Owner))
	}
	if f.Downstream != nil {
		conds = append(conds, "downstream = "+arg(*f.Downstream))
	}
	if len(f.FederatesWith) > 0 {
		conds = append(conds, "id IN (SELECT entry_id FROM entry_federates_with WHERE trust_domain = ANY("+arg(f.FederatesWith)+"))")
	}
	if sels := selector.NewSet(f.Selectors...); len(sels) > 0 {
		anyOf := func() string {
			types, values := make([]string, len(sels)), make([]string, len(sels))
			for i, s := range sels {
				types[i], values[i] = s.Type, s.Value
			}
			return "(type, value) IN (SELECT * FROM unnest(" + arg(types) + "::text[], " + arg(values) + "::text[]))"
		}
		switch f.SelectorMatch {
		case datastore.MatchExact:
			conds = append(conds, "selectors_hash = "+arg(sels.Digest()))
		case datastore.MatchSuperset:
			conds = append(conds, "id IN (SELECT entry_id FROM entry_selectors WHERE "+anyOf()+
				" GROUP BY entry_id HAVING COUNT(*) = "+arg(int64(len(sels)))+")")
		case datastore.MatchSubset:
			// Entries all of whose selectors are among the filter's: the
			// matching rows of an entry number as many as all its rows.
			conds = append(conds, "id IN (SELECT entry_id FROM entry_selectors WHERE "+anyOf()+
				" GROUP BY entry_id HAVING COUNT(*) = (SELECT COUNT(*) FROM entry_selectors AS own"+
				" WHERE own.entry_id = entry_selectors.entry_id))")
		case datastore.MatchAny:
			conds = append(conds, "id IN (SELECT entry_id FROM entry_selectors WHERE "+anyOf()+")")
		}
	}
	return strings.Join(conds, " AND "), args
}
