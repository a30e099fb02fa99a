package datastore_test

import (
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

func set(ss ...string) selector.Set {
	out := make([]selector.Selector, len(ss))
	for i, s := range ss {
		p, err := selector.Parse(s)
		if err != nil {
			panic(err)
		}
		out[i] = p
	}
	return selector.NewSet(out...)
}

func TestMatcher(t *testing.T) {
	yes := true
	e := &datastore.Entry{
		SPIFFEID: "spiffe://td/w", ParentID: "spiffe://td/a", Hint: "h",
		Selectors: set("a:1", "b:2"), Downstream: true, FederatesWith: []string{"x", "y"},
	}
	tests := []struct {
		name string
		f    datastore.EntryFilter
		want bool
	}{
		{"empty filter", datastore.EntryFilter{}, true},
		{"spiffe id", datastore.EntryFilter{SPIFFEID: "spiffe://td/w"}, true},
		{"other spiffe id", datastore.EntryFilter{SPIFFEID: "spiffe://td/v"}, false},
		{"parent id", datastore.EntryFilter{ParentID: "spiffe://td/b"}, false},
		{"hint", datastore.EntryFilter{Hint: "h"}, true},
		{"downstream", datastore.EntryFilter{Downstream: &yes}, true},
		{"federates with any", datastore.EntryFilter{FederatesWith: []string{"z", "y"}}, true},
		{"federates with none", datastore.EntryFilter{FederatesWith: []string{"z"}}, false},
		{"exact unsorted filter", datastore.EntryFilter{Selectors: set("b:2", "a:1"), SelectorMatch: datastore.MatchExact}, true},
		{"exact differs", datastore.EntryFilter{Selectors: set("a:1"), SelectorMatch: datastore.MatchExact}, false},
		{"subset", datastore.EntryFilter{Selectors: set("a:1", "b:2", "c:3"), SelectorMatch: datastore.MatchSubset}, true},
		{"not subset", datastore.EntryFilter{Selectors: set("a:1", "c:3"), SelectorMatch: datastore.MatchSubset}, false},
		{"superset", datastore.EntryFilter{Selectors: set("b:2"), SelectorMatch: datastore.MatchSuperset}, true},
		{"not superset", datastore.EntryFilter{Selectors: set("b:2", "c:3"), SelectorMatch: datastore.MatchSuperset}, false},
		{"any", datastore.EntryFilter{Selectors: set("c:3", "a:1"), SelectorMatch: datastore.MatchAny}, true},
		{"not any", datastore.EntryFilter{Selectors: set("c:3"), SelectorMatch: datastore.MatchAny}, false},
		{"and of fields", datastore.EntryFilter{SPIFFEID: "spiffe://td/w", Hint: "other"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Matcher()(e); got != tt.want {
				t.Fatalf("Matcher = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterValidate(t *testing.T) {
	tests := []struct {
		name    string
		f       datastore.EntryFilter
		wantErr bool
	}{
		{"zero", datastore.EntryFilter{}, false},
		{"any", datastore.EntryFilter{SelectorMatch: datastore.MatchAny, Selectors: set("a:1")}, false},
		{"unknown match", datastore.EntryFilter{SelectorMatch: 7}, true},
		{"bad selector", datastore.EntryFilter{Selectors: selector.Set{{Type: "a"}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); (err != nil) != tt.wantErr {
				t.Fatalf("Validate = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}
