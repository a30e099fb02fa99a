package storetest

import (
	"slices"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var filterTests = []test{
	{"Filters", testListFilters},
	{"UnknownSelectorMatch", testListUnknownMatch},
}

// filterFixture stores five entries with known IDs (so the expected order
// is known) and returns them as stored.
func filterFixture(t *testing.T, s datastore.Store) map[string]*datastore.Entry {
	const (
		a = "unix:uid:1000"
		b = "unix:gid:1000"
		c = "k8s:ns:prod"
		d = "k8s:sa:db"
	)
	in := []*datastore.Entry{
		{ID: "e1", SPIFFEID: "spiffe://td/web", ParentID: "spiffe://td/agent1", Selectors: sel(t, a), Hint: "web", FederatesWith: []string{"td1"}},
		{ID: "e2", SPIFFEID: "spiffe://td/web", ParentID: "spiffe://td/agent2", Selectors: sel(t, a, b), Downstream: true, FederatesWith: []string{"td2"}},
		{ID: "e3", SPIFFEID: "spiffe://td/db", ParentID: "spiffe://td/agent1", Selectors: sel(t, c, d), Hint: "db", FederatesWith: []string{"td1", "td2"}},
		{ID: "e4", SPIFFEID: "spiffe://td/db", ParentID: "spiffe://td/agent2", Selectors: sel(t, c)},
		{ID: "e5", SPIFFEID: "spiffe://td/other", ParentID: "spiffe://td/agent1", Selectors: sel(t, a, c), Downstream: true, DNSNames: []string{"other"}},
	}
	federate(t, s, "td1", "td2")
	stored := map[string]*datastore.Entry{}
	// Create out of order: ListEntries must sort by ID itself.
	for _, i := range []int{3, 0, 4, 1, 2} {
		e, err := s.CreateEntry(t.Context(), in[i])
		must(t, "CreateEntry", err)
		stored[e.ID] = e
	}
	return stored
}

func testListFilters(t *testing.T, s datastore.Store) {
	stored := filterFixture(t, s)
	yes, no := true, false
	tests := []struct {
		name string
		f    datastore.EntryFilter
		want []string
	}{
		{"no filter", datastore.EntryFilter{}, []string{"e1", "e2", "e3", "e4", "e5"}},
		{"spiffe id", datastore.EntryFilter{SPIFFEID: "spiffe://td/web"}, []string{"e1", "e2"}},
		{"parent id", datastore.EntryFilter{ParentID: "spiffe://td/agent1"}, []string{"e1", "e3", "e5"}},
		{"unknown parent id", datastore.EntryFilter{ParentID: "spiffe://td/nobody"}, nil},
		{"hint", datastore.EntryFilter{Hint: "web"}, []string{"e1"}},
		{"downstream true", datastore.EntryFilter{Downstream: &yes}, []string{"e2", "e5"}},
		{"downstream false", datastore.EntryFilter{Downstream: &no}, []string{"e1", "e3", "e4"}},
		{"federates with one", datastore.EntryFilter{FederatesWith: []string{"td1"}}, []string{"e1", "e3"}},
		{"federates with any of", datastore.EntryFilter{FederatesWith: []string{"td2", "td3"}}, []string{"e2", "e3"}},
		{"exact single", datastore.EntryFilter{Selectors: sel(t, "unix:uid:1000"), SelectorMatch: datastore.MatchExact}, []string{"e1"}},
		{"exact unsorted filter", datastore.EntryFilter{Selectors: sel(t, "unix:gid:1000", "unix:uid:1000"), SelectorMatch: datastore.MatchExact}, []string{"e2"}},
		{"exact none", datastore.EntryFilter{Selectors: sel(t, "unix:gid:1000"), SelectorMatch: datastore.MatchExact}, nil},
		{"subset", datastore.EntryFilter{Selectors: sel(t, "unix:uid:1000", "unix:gid:1000"), SelectorMatch: datastore.MatchSubset}, []string{"e1", "e2"}},
		{"subset wider", datastore.EntryFilter{Selectors: sel(t, "k8s:sa:db", "k8s:ns:prod", "unix:uid:1000"), SelectorMatch: datastore.MatchSubset}, []string{"e1", "e3", "e4", "e5"}},
		{"subset excludes extra selectors", datastore.EntryFilter{Selectors: sel(t, "k8s:ns:prod"), SelectorMatch: datastore.MatchSubset}, []string{"e4"}},
		{"subset none", datastore.EntryFilter{Selectors: sel(t, "unix:uid:0"), SelectorMatch: datastore.MatchSubset}, nil},
		{"superset one", datastore.EntryFilter{Selectors: sel(t, "unix:uid:1000"), SelectorMatch: datastore.MatchSuperset}, []string{"e1", "e2", "e5"}},
		{"superset two", datastore.EntryFilter{Selectors: sel(t, "k8s:ns:prod", "unix:uid:1000"), SelectorMatch: datastore.MatchSuperset}, []string{"e5"}},
		{"superset none", datastore.EntryFilter{Selectors: sel(t, "k8s:sa:db", "unix:gid:1000"), SelectorMatch: datastore.MatchSuperset}, nil},
		{"any", datastore.EntryFilter{Selectors: sel(t, "unix:gid:1000", "k8s:sa:db"), SelectorMatch: datastore.MatchAny}, []string{"e2", "e3"}},
		{"any none", datastore.EntryFilter{Selectors: sel(t, "unix:uid:0"), SelectorMatch: datastore.MatchAny}, nil},
		{"parent and superset", datastore.EntryFilter{ParentID: "spiffe://td/agent1", Selectors: sel(t, "unix:uid:1000"), SelectorMatch: datastore.MatchSuperset}, []string{"e1", "e5"}},
		{"spiffe id, downstream and federation", datastore.EntryFilter{SPIFFEID: "spiffe://td/db", Downstream: &no, FederatesWith: []string{"td2"}}, []string{"e3"}},
		{"conflicting fields", datastore.EntryFilter{SPIFFEID: "spiffe://td/web", Hint: "db"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListEntries(t.Context(), tt.f)
			must(t, "ListEntries", err)
			if ids := entryIDs(got); !slices.Equal(ids, tt.want) {
				t.Fatalf("ListEntries IDs = %v, want %v", ids, tt.want)
			}
			for _, e := range got {
				if d := entryDiff(e, stored[e.ID]); d != "" {
					t.Errorf("entry %s: %s", e.ID, d)
				}
			}
		})
	}
}

func testListUnknownMatch(t *testing.T, s datastore.Store) {
	_, err := s.ListEntries(t.Context(), datastore.EntryFilter{Selectors: sel(t, "unix:uid:1"), SelectorMatch: datastore.SelectorMatch(42)})
	if err == nil {
		t.Fatal("ListEntries with an unknown selector match succeeded, want an error")
	}
}
