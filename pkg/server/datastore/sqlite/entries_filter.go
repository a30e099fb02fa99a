package sqlite

import (
	"strings"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// filterSQL turns f into a WHERE condition over entries (empty when f
// filters nothing) and its arguments. The condition is exact; ListEntries
// still applies datastore.EntryFilter.Matcher, the reference semantics, as
// a safety net.
func filterSQL(f datastore.EntryFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if f.SPIFFEID != "" {
		add("spiffe_id = ?", f.SPIFFEID)
	}
	if f.ParentID != "" {
		add("parent_id = ?", f.ParentID)
	}
	if f.Hint != "" {
		add("hint = ?", f.Hint)
	}
	if f.Owner != "" {
		add("owner = ?", f.Owner)
	}
	if f.Downstream != nil {
		add("downstream = ?", boolInt(*f.Downstream))
	}
	if n := len(f.FederatesWith); n > 0 {
		a := make([]any, n)
		for i, td := range f.FederatesWith {
			a[i] = td
		}
		add("id IN (SELECT entry_id FROM entry_federates_with WHERE trust_domain IN ("+placeholders(n)+"))", a...)
	}
	if sels := selector.NewSet(f.Selectors...); len(sels) > 0 {
		anyOf, a := selectorsAnyOf(sels)
		switch f.SelectorMatch {
		case datastore.MatchExact:
			add("selectors_hash = ?", sels.Digest())
		case datastore.MatchSuperset:
			add("id IN (SELECT entry_id FROM entry_selectors WHERE "+anyOf+
				" GROUP BY entry_id HAVING COUNT(*) = ?)", append(a, len(sels))...)
		case datastore.MatchSubset:
			// Entries all of whose selectors are among the filter's: the
			// matching rows of an entry number as many as all its rows.
			add("id IN (SELECT entry_id FROM entry_selectors WHERE "+anyOf+
				" GROUP BY entry_id HAVING COUNT(*) = (SELECT COUNT(*) FROM entry_selectors AS own"+
				" WHERE own.entry_id = entry_selectors.entry_id))", a...)
		case datastore.MatchAny:
			add("id IN (SELECT entry_id FROM entry_selectors WHERE "+anyOf+")", a...)
		}
	}
	return strings.Join(conds, " AND "), args
}

// selectorsAnyOf returns a condition over entry_selectors rows true for any
// selector in sels, and its arguments.
func selectorsAnyOf(sels selector.Set) (string, []any) {
	terms := make([]string, len(sels))
	args := make([]any, 0, 2*len(sels))
	for i, s := range sels {
		terms[i] = "(type = ? AND value = ?)"
		args = append(args, s.Type, s.Value)
	}
	return "(" + strings.Join(terms, " OR ") + ")", args
}
