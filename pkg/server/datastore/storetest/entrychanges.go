package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var entryChangeTests = []test{
	{"Recorded", testEntryChangesRecorded},
	{"Accumulate", testEntryChangesAccumulate},
	{"AtCurrentRevision", testEntryChangesAtCurrent},
	{"AheadOfStore", testEntryChangesAhead},
	{"FailedWriteRecordsNothing", testEntryChangesFailedWrite},
	{"GetEntries", testGetEntries},
}

// changeEntry is a small entry with the given ID, optionally federating.
func changeEntry(id string, federatesWith ...string) *datastore.Entry {
	return &datastore.Entry{
		ID:            id,
		SPIFFEID:      "spiffe://example.org/" + id,
		ParentID:      "spiffe://example.org/spire/agent/x",
		FederatesWith: federatesWith,
	}
}

// wantChanges fails the test unless EntryChangesSince(since) is complete,
// reaches the current revision and names exactly ids.
func wantChanges(t *testing.T, s datastore.Store, what string, since int64, ids ...string) {
	t.Helper()
	ch, err := s.EntryChangesSince(t.Context(), since)
	must(t, what+": EntryChangesSince", err)
	rev, err := s.EntriesRevision(t.Context())
	must(t, what+": EntriesRevision", err)
	if !ch.Complete || ch.Revision != rev || !slices.Equal(ch.IDs, ids) {
		t.Errorf("%s: EntryChangesSince(%d) = %+v, want complete, revision %d, IDs %q", what, since, ch, rev, ids)
	}
}

// testEntryChangesRecorded: every kind of entry write, the entry updates
// and deletions a bundle delete makes included, is in the change log at
// a revision after the one before the write.
func testEntryChangesRecorded(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	federate(t, s, "dis.example", "del.example")
	for _, id := range []string{"u", "d", "f1", "f2", "g1", "g2"} {
		var tds []string
		switch id[0] {
		case 'f':
			tds = []string{"dis.example"}
		case 'g':
			tds = []string{"del.example"}
		}
		_, err := s.CreateEntry(ctx, changeEntry(id, tds...))
		must(t, "CreateEntry "+id, err)
	}
	cases := []struct {
		name  string
		write func() error
		ids   []string
	}{
		{"create", func() error { _, err := s.CreateEntry(ctx, changeEntry("c")); return err }, []string{"c"}},
		{"update", func() error {
			e := changeEntry("u")
			e.Hint = "changed"
			_, err := s.UpdateEntry(ctx, e)
			return err
		}, []string{"u"}},
		{"delete", func() error { _, err := s.DeleteEntry(ctx, "d"); return err }, []string{"d"}},
		{"bundle delete dissociating", func() error {
			return s.DeleteBundle(ctx, "dis.example", datastore.DeleteDissociate)
		}, []string{"f1", "f2"}},
		{"bundle delete deleting entries", func() error {
			return s.DeleteBundle(ctx, "del.example", datastore.DeleteEntries)
		}, []string{"g1", "g2"}},
	}
	for _, tc := range cases {
		rev, err := s.EntriesRevision(ctx)
		must(t, tc.name+": EntriesRevision", err)
		must(t, tc.name, tc.write())
		wantChanges(t, s, tc.name, rev, tc.ids...)
	}
}

// testEntryChangesAccumulate: changes since an older revision are the
// union of the later writes, each entry once, sorted.
func testEntryChangesAccumulate(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	rev, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	for _, id := range []string{"b", "a", "c"} {
		_, err := s.CreateEntry(ctx, changeEntry(id))
		must(t, "CreateEntry "+id, err)
	}
	e := changeEntry("b")
	e.Hint = "again"
	_, err = s.UpdateEntry(ctx, e)
	must(t, "UpdateEntry", err)
	_, err = s.DeleteEntry(ctx, "c")
	must(t, "DeleteEntry", err)
	wantChanges(t, s, "after five writes", rev, "a", "b", "c")
	wantChanges(t, s, "after the update", rev+4, "c")
}

// testEntryChangesAtCurrent: at the current revision there is nothing
// new, and reads change nothing.
func testEntryChangesAtCurrent(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	wantChanges(t, s, "empty store", 0)
	_, err := s.CreateEntry(ctx, changeEntry("a"))
	must(t, "CreateEntry", err)
	rev, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	wantChanges(t, s, "at the current revision", rev)
	wantChanges(t, s, "read twice", rev)
}

// testEntryChangesAhead: a revision the store never reached (a server
// that remembers another database's revision) is not complete.
func testEntryChangesAhead(t *testing.T, s datastore.Store) {
	rev, err := s.EntriesRevision(t.Context())
	must(t, "EntriesRevision", err)
	ch, err := s.EntryChangesSince(t.Context(), rev+10)
	must(t, "EntryChangesSince", err)
	if ch.Complete || ch.Revision != rev {
		t.Errorf("EntryChangesSince(%d) = %+v, want incomplete at revision %d", rev+10, ch, rev)
	}
}

// testEntryChangesFailedWrite: a refused write is rolled back with its
// change-log row.
func testEntryChangesFailedWrite(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	_, err := s.CreateEntry(ctx, changeEntry("a"))
	must(t, "CreateEntry", err)
	rev, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	_, err = s.CreateEntry(ctx, changeEntry("a"))
	wantErr(t, "CreateEntry twice", err, datastore.ErrAlreadyExists)
	_, err = s.UpdateEntry(ctx, changeEntry("absent"))
	wantErr(t, "UpdateEntry absent", err, datastore.ErrNotFound)
	_, err = s.DeleteEntry(ctx, "absent")
	wantErr(t, "DeleteEntry absent", err, datastore.ErrNotFound)
	wantChanges(t, s, "after refused writes", rev)
}

// testGetEntries: the entries asked for, by ID order, absent ones and
// repeats skipped, each with its selectors, DNS names (in their order)
// and federated trust domains.
func testGetEntries(t *testing.T, s datastore.Store) {
	ctx := t.Context()
	for _, td := range []string{"b.example", "a.example"} {
		must(t, "SetBundle", s.SetBundle(ctx, &datastore.Bundle{TrustDomain: td, Data: []byte(td)}))
	}
	want := map[string]*datastore.Entry{}
	for i, id := range []string{"c", "a", "b"} {
		e := changeEntry(id)
		if i > 0 {
			e.FederatesWith = []string{"b.example", "a.example"}[:i]
			e.DNSNames = []string{"z.example", "a.example", "m.example"}[:i+1]
			e.Selectors = selector.NewSet(selector.Selector{Type: "unix", Value: "uid:2"}, selector.Selector{Type: "k8s", Value: "ns:x"},
				selector.Selector{Type: "unix", Value: "gid:" + id})
		}
		e, err := s.CreateEntry(ctx, e)
		must(t, "CreateEntry "+id, err)
		want[id] = e
	}
	for _, tc := range []struct {
		ids, want []string
	}{
		{nil, nil},
		{[]string{"absent"}, nil},
		{[]string{"c", "absent", "a", "c"}, []string{"a", "c"}},
		{[]string{"b", "a", "c"}, []string{"a", "b", "c"}},
	} {
		t.Run(fmt.Sprint(tc.ids), func(t *testing.T) {
			got, err := s.GetEntries(ctx, tc.ids)
			must(t, "GetEntries", err)
			if ids := entryIDs(got); !slices.Equal(ids, tc.want) {
				t.Fatalf("GetEntries(%q) = %q, want %q", tc.ids, ids, tc.want)
			}
			for _, e := range got {
				if d := entryDiff(e, want[e.ID]); d != "" {
					t.Errorf("GetEntries entry %s: %s", e.ID, d)
				}
			}
		})
	}
}

// RunEntryChangesPruning checks that the entry change log keeps the latest
// kept revisions and reports older ones incomplete. open must return a
// new, empty store whose log keeps kept revisions.
func RunEntryChangesPruning(t *testing.T, open func(t *testing.T, kept int64) datastore.Store) {
	const kept = 3
	s := open(t, kept)
	ctx := t.Context()
	rev0, err := s.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	var ids []string
	for i := range 6 {
		id := fmt.Sprintf("e%d", i)
		_, err := s.CreateEntry(ctx, changeEntry(id))
		must(t, "CreateEntry "+id, err)
		ids = append(ids, id)
	}
	rev := rev0 + 6
	for since := rev0; since <= rev; since++ {
		ch, err := s.EntryChangesSince(ctx, since)
		must(t, "EntryChangesSince", err)
		if since < rev-kept {
			if ch.Complete || ch.Revision != rev {
				t.Errorf("EntryChangesSince(%d) = %+v, want incomplete at revision %d: pruned", since, ch, rev)
			}
			continue
		}
		if want := ids[since-rev0:]; !ch.Complete || ch.Revision != rev || !slices.Equal(ch.IDs, want) {
			t.Errorf("EntryChangesSince(%d) = %+v, want complete at revision %d with %q", since, ch, rev, want)
		}
	}
}

// testConcurrentEntryChanges: a reader following the change log while
// racing creates commit through two servers misses none of them. It fails
// if a revision could become visible before a lower one: the follower
// would move past the lower revision before its change was readable.
func testConcurrentEntryChanges(t *testing.T, a, b datastore.Store) {
	ctx := t.Context()
	const n = 24
	last, err := b.EntriesRevision(ctx)
	must(t, "EntriesRevision", err)
	seen := map[string]bool{}
	follow := func() error {
		ch, err := b.EntryChangesSince(ctx, last)
		if err != nil {
			return err
		}
		if !ch.Complete {
			return fmt.Errorf("EntryChangesSince(%d) = %+v: incomplete", last, ch)
		}
		for _, id := range ch.IDs {
			seen[id] = true
		}
		last = ch.Revision
		return nil
	}
	done := make(chan struct{})
	followed := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				followed <- follow()
				return
			default:
			}
			if err := follow(); err != nil {
				followed <- err
				return
			}
		}
	}()
	errs := race(a, b, n, func(i int, s datastore.Store) error {
		_, err := s.CreateEntry(ctx, changeEntry(fmt.Sprintf("w%02d", i)))
		return err
	})
	close(done)
	must(t, "follow the change log", <-followed)
	for i, err := range errs {
		must(t, fmt.Sprintf("CreateEntry %d", i), err)
	}
	for i := range n {
		if id := fmt.Sprintf("w%02d", i); !seen[id] {
			t.Errorf("entry %s created concurrently never appeared in the change log followed from revision to revision", id)
		}
	}
}
