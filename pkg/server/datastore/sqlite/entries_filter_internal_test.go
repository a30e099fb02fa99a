package sqlite

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// TestFilterSQLIsExact checks that the SQL condition alone selects exactly
// what datastore.EntryFilter.Matcher (the reference semantics) selects, so
// ListEntries' Matcher pass is a safety net and not what makes results
// right. Entries and filters are drawn from a small selector universe so
// every relation (equal, subset, superset, overlap, disjoint) occurs.
func TestFilterSQLIsExact(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db.sqlite3"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })

	rng := rand.New(rand.NewPCG(1, 2))
	universe := make([]selector.Selector, 6)
	for i := range universe {
		universe[i] = selector.Selector{Type: "t", Value: fmt.Sprint(i)}
	}
	pick := func() selector.Set {
		var out []selector.Selector
		for len(out) == 0 {
			for _, sel := range universe {
				if rng.IntN(3) == 0 {
					out = append(out, sel)
				}
			}
		}
		return selector.NewSet(out...)
	}
	for i := range 5 {
		// Entries may federate only with trust domains that have a bundle.
		if err := s.SetBundle(ctx, &datastore.Bundle{TrustDomain: fmt.Sprintf("td%d", i), Data: []byte("{}")}); err != nil {
			t.Fatalf("SetBundle: %v", err)
		}
	}
	for i := range 60 {
		e := &datastore.Entry{
			SPIFFEID:      fmt.Sprintf("spiffe://td/w%d", i),
			ParentID:      fmt.Sprintf("spiffe://td/a%d", i%3),
			Selectors:     pick(),
			Downstream:    i%4 == 0,
			FederatesWith: []string{fmt.Sprintf("td%d", i%5)},
		}
		if _, err := s.CreateEntry(ctx, e); err != nil {
			t.Fatalf("CreateEntry: %v", err)
		}
	}
	all, err := s.ListEntries(ctx, datastore.EntryFilter{})
	if err != nil {
		t.Fatalf("ListEntries: %v", err)
	}
	modes := []datastore.SelectorMatch{datastore.MatchExact, datastore.MatchSubset, datastore.MatchSuperset, datastore.MatchAny}
	for i := range 80 {
		f := datastore.EntryFilter{Selectors: pick(), SelectorMatch: modes[i%len(modes)]}
		if i%3 == 0 {
			f.ParentID = "spiffe://td/a1"
		}
		if i%5 == 0 {
			f.FederatesWith = []string{"td1", "td2"}
		}
		var want []string
		match := f.Matcher()
		for _, e := range all {
			if match(e) {
				want = append(want, e.ID)
			}
		}
		where, args := filterSQL(f)
		var got []string
		err := s.readTx(ctx, func(tx *sql.Tx) error {
			es, err := loadEntries(ctx, tx, where, args)
			for _, e := range es {
				got = append(got, e.ID)
			}
			return err
		})
		if err != nil {
			t.Fatalf("loadEntries: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("filter %+v (%v): SQL selects %d entries, Matcher %d\n got %v\nwant %v",
				f, f.SelectorMatch, len(got), len(want), got, want)
		}
	}
}
