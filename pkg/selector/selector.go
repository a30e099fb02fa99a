// Package selector provides the "type:value" selectors that describe nodes
// and workloads, and the set operations registration entries are matched with.
package selector

import (
	"fmt"
	"slices"
	"strings"
)

// Selector is one attested property, such as unix:uid:1000 (Type "unix",
// Value "uid:1000").
type Selector struct {
	Type  string
	Value string
}

// String renders the selector as "type:value", the form SPIRE's CLI accepts.
func (s Selector) String() string { return s.Type + ":" + s.Value }

// Parse parses "type:value". The type must be non-empty and the value must be
// non-empty; the value may itself contain colons.
func Parse(s string) (Selector, error) {
	typ, val, ok := strings.Cut(s, ":")
	if !ok {
		return Selector{}, fmt.Errorf("selector %q: want \"type:value\"", s)
	}
	sel := Selector{Type: typ, Value: val}
	if err := sel.Validate(); err != nil {
		return Selector{}, err
	}
	return sel, nil
}

// Validate reports whether the selector has a non-empty type without colons
// and a non-empty value.
func (s Selector) Validate() error {
	switch {
	case s.Type == "":
		return fmt.Errorf("selector %q: empty type", s.String())
	case strings.Contains(s.Type, ":"):
		return fmt.Errorf("selector %q: type must not contain ':'", s.String())
	case s.Value == "":
		return fmt.Errorf("selector %q: empty value", s.String())
	}
	return nil
}

// Compare orders selectors by type, then value.
func Compare(a, b Selector) int {
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return strings.Compare(a.Value, b.Value)
}

// Set is a sorted, de-duplicated list of selectors.
type Set []Selector

// NewSet returns the sorted, de-duplicated set of the given selectors.
func NewSet(sels ...Selector) Set {
	s := slices.Clone(sels)
	slices.SortFunc(s, Compare)
	return Set(slices.Compact(s))
}

// Contains reports whether sel is in the set.
func (s Set) Contains(sel Selector) bool {
	_, found := slices.BinarySearchFunc(s, sel, Compare)
	return found
}

// IsSubsetOf reports whether every selector of s is also in other. An entry
// matches a workload when the entry's selectors are a subset of the
// workload's attested selectors (SPIRE's "subset" match). An empty set is a
// subset of nothing: an entry must name at least one selector.
func (s Set) IsSubsetOf(other Set) bool {
	if len(s) == 0 {
		return false
	}
	for _, sel := range s {
		if !other.Contains(sel) {
			return false
		}
	}
	return true
}

// Strings renders each selector as "type:value".
func (s Set) Strings() []string {
	out := make([]string, len(s))
	for i, sel := range s {
		out[i] = sel.String()
	}
	return out
}
