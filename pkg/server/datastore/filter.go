package datastore

import (
	"fmt"
	"slices"

	"github.com/svidkit/svidkit/pkg/selector"
)

// String names the match mode as SPIRE's types.SelectorMatch does.
func (m SelectorMatch) String() string {
	switch m {
	case MatchExact:
		return "exact"
	case MatchSubset:
		return "subset"
	case MatchSuperset:
		return "superset"
	case MatchAny:
		return "any"
	}
	return fmt.Sprintf("SelectorMatch(%d)", int(m))
}

// Validate reports whether f can be evaluated: its SelectorMatch must be one
// of the defined modes and its selectors well formed.
func (f EntryFilter) Validate() error {
	switch f.SelectorMatch {
	case MatchExact, MatchSubset, MatchSuperset, MatchAny:
	default:
		return fmt.Errorf("entry filter: unknown selector match %v", f.SelectorMatch)
	}
	if len(f.Selectors) > MaxFilterSelectors {
		return fmt.Errorf("entry filter: selectors: %d selectors, more than the limit of %d", len(f.Selectors), MaxFilterSelectors)
	}
	if len(f.FederatesWith) > MaxFilterSelectors {
		return fmt.Errorf("entry filter: federates_with: %d trust domains, more than the limit of %d", len(f.FederatesWith), MaxFilterSelectors)
	}
	for _, s := range f.Selectors {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("entry filter: selectors: %w", err)
		}
	}
	return nil
}

// Matcher returns a predicate that reports whether an entry satisfies f: all
// set fields AND together, zero fields do not filter. It is the reference
// semantics of ListEntries; stores may narrow candidates in their query
// language and apply Matcher to be exact. The filter is normalised once, so
// the predicate is cheap to call per entry. Entry selectors must be sorted
// (as stores return them).
func (f EntryFilter) Matcher() func(*Entry) bool {
	sels := selector.NewSet(f.Selectors...)
	match := f.SelectorMatch
	return func(e *Entry) bool {
		switch {
		case f.SPIFFEID != "" && e.SPIFFEID != f.SPIFFEID:
			return false
		case f.ParentID != "" && e.ParentID != f.ParentID:
			return false
		case f.Hint != "" && e.Hint != f.Hint:
			return false
		case f.Owner != "" && e.Owner != f.Owner:
			return false
		case f.Downstream != nil && e.Downstream != *f.Downstream:
			return false
		case len(f.FederatesWith) > 0 && !sharesAny(e.FederatesWith, f.FederatesWith):
			return false
		case len(sels) > 0 && !selectorsMatch(e.Selectors, sels, match):
			return false
		}
		return true
	}
}

// selectorsMatch compares an entry's sorted selectors with the filter's.
func selectorsMatch(entry, filter selector.Set, m SelectorMatch) bool {
	switch m {
	case MatchExact:
		return slices.Equal(entry, filter)
	case MatchSubset:
		return entry.IsSubsetOf(filter)
	case MatchSuperset:
		return filter.IsSubsetOf(entry)
	case MatchAny:
		return slices.ContainsFunc(entry, filter.Contains)
	}
	return false
}

// sharesAny reports whether a and b have a common element.
func sharesAny(a, b []string) bool {
	return slices.ContainsFunc(a, func(s string) bool { return slices.Contains(b, s) })
}
