package storetest

import (
	"slices"
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// entryChangeTests are the change log's cases (changeLogTests) and those
// of the entries EntryChangesSince reads with the changes.
var entryChangeTests = append(changeLogTests(entryLog), test{"Entries", testEntryChangesEntries})

// agentChangeTests are the agent change log's cases.
var agentChangeTests = changeLogTests(agentLog)

// testEntryChangesEntries: EntryChangesSince reads the changed entries
// when the changes are complete and at most maxEntries: by ID order, each
// once, with its selectors, DNS names (in their order) and federated
// trust domains as stored at the revision read; an entry deleted since is
// among the IDs but not the entries. Otherwise it reads none.
func testEntryChangesEntries(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	for _, td := range []string{"b.example", "a.example"} {
		must(t, "SetBundle", s.SetBundle(ctx, &datastore.Bundle{TrustDomain: td, Data: []byte(td)}))
	}
	rev0, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	stored := map[string]*datastore.Entry{}
	for i, id := range []string{"c", "a", "b", "d"} {
		e := changeEntry(id)
		if i > 0 {
			e.FederatesWith = []string{"b.example", "a.example"}[:i%3]
			e.DNSNames = []string{"z.example", "a.example", "m.example"}[:i%3+1]
			e.Selectors = selector.NewSet(selector.Selector{Type: "unix", Value: "uid:2"}, selector.Selector{Type: "k8s", Value: "ns:x"},
				selector.Selector{Type: "unix", Value: "gid:" + id})
		}
		e, err := s.CreateEntry(ctx, e)
		must(t, "CreateEntry "+id, err)
		stored[id] = e
	}
	revCreated := rev0 + 4
	a := *stored["a"]
	a.Hint = "changed"
	a.DNSNames = []string{"n.example"}
	updated, err := s.UpdateEntry(ctx, &a)
	must(t, "UpdateEntry a", err)
	_, err = s.DeleteEntry(ctx, "d")
	must(t, "DeleteEntry d", err)
	now := map[string]*datastore.Entry{"a": updated, "b": stored["b"], "c": stored["c"]}
	rev := revCreated + 2

	for _, tc := range []struct {
		name        string
		since       int64
		maxEntries  int
		ids         []string
		complete    bool
		entries     []string // nil: none read
		entriesFrom map[string]*datastore.Entry
	}{
		{"created, one updated twice and one deleted since", rev0, 4, []string{"a", "b", "c", "d"}, true, []string{"a", "b", "c"}, now},
		{"as many changes as maxEntries", rev0 + 1, 3, []string{"a", "b", "d"}, true, []string{"a", "b"}, now},
		{"the deletion alone", rev - 1, 1, []string{"d"}, true, []string{}, nil},
		{"nothing changed", rev, 1, nil, true, []string{}, nil},
		{"more changes than maxEntries", rev0, 3, []string{"a", "b", "c", "d"}, true, nil, nil},
		{"maxEntries 0", rev0, 0, []string{"a", "b", "c", "d"}, true, nil, nil},
		{"negative revision", -1, 10, nil, false, nil, nil},
		{"ahead of the store", rev + 1, 10, nil, false, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := s.EntryChangesSince(ctx, tc.since, tc.maxEntries)
			must(t, "EntryChangesSince", err)
			if ch.Revision != rev || ch.Complete != tc.complete || !slices.Equal(ch.IDs, tc.ids) {
				t.Fatalf("EntryChangesSince(%d, %d) = %+v, want revision %d, complete %v, IDs %q", tc.since, tc.maxEntries, ch, rev, tc.complete, tc.ids)
			}
			if got := entryIDs(ch.Entries); ch.EntriesRead != (tc.entries != nil) || !slices.Equal(got, tc.entries) {
				t.Fatalf("EntryChangesSince(%d, %d): entries read %v, %q; want read %v, %q", tc.since, tc.maxEntries, ch.EntriesRead, got, tc.entries != nil, tc.entries)
			}
			for _, e := range ch.Entries {
				if d := entryDiff(e, tc.entriesFrom[e.ID]); d != "" {
					t.Errorf("EntryChangesSince entry %s: %s", e.ID, d)
				}
			}
		})
	}
}
