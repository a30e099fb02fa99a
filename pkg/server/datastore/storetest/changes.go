package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// changeLogTests are the cases every change log passes, run on l.
func changeLogTests(l changeLog) []test {
	return []test{
		{"Recorded", func(t *testing.T, s datastore.Store) { testChangesRecorded(t, s, l) }},
		{"Accumulate", func(t *testing.T, s datastore.Store) { testChangesAccumulate(t, s, l) }},
		{"AtCurrentRevision", func(t *testing.T, s datastore.Store) { testChangesAtCurrent(t, s, l) }},
		{"RevisionAlone", func(t *testing.T, s datastore.Store) { testChangesRevisionAlone(t, s, l) }},
		{"AheadOfStore", func(t *testing.T, s datastore.Store) { testChangesAhead(t, s, l) }},
		{"FailedWriteRecordsNothing", func(t *testing.T, s datastore.Store) { testChangesFailedWrite(t, s, l) }},
	}
}

// logRevision returns l's current revision in s.
func logRevision(t *testing.T, s datastore.Store, l changeLog) int64 {
	t.Helper()
	rev, err := l.revision(t.Context(), s)
	must(t, l.name+" revision", err)
	return rev
}

// wantChanges fails the test unless l read since revision since is
// complete, reaches the current revision and names exactly the records.
func wantChanges(t *testing.T, s datastore.Store, l changeLog, what string, since int64, names ...string) {
	t.Helper()
	got, err := l.since(t.Context(), s, since)
	must(t, what+": "+l.name+" changes", err)
	var ids []string
	for _, n := range names {
		ids = append(ids, l.id(n))
	}
	if rev := logRevision(t, s, l); !got.complete || got.revision != rev || !slices.Equal(got.ids, ids) {
		t.Errorf("%s: %s changes since %d = %+v, want complete, revision %d, IDs %q", what, l.name, since, got, rev, ids)
	}
}

// testChangesRecorded: every kind of write is in the change log at a
// revision after the one before the write, alone: creation, update,
// deletion, and the log's other writes (for entries those a bundle delete
// makes; for agents a ban, a re-attestation, AttestAgent of a new or an
// existing agent).
func testChangesRecorded(t *testing.T, s datastore.Store, l changeLog) {
	ctx := t.Context()
	for _, n := range []string{"u", "d"} {
		must(t, "create "+n, l.create(ctx, s, n))
	}
	others, err := l.writes(ctx, s)
	must(t, "seed the other writes", err)
	cases := append([]logWrite{
		{"create", func() error { return l.create(ctx, s, "c") }, []string{"c"}},
		{"update", func() error { return l.update(ctx, s, "u") }, []string{"u"}},
		{"delete", func() error { return l.remove(ctx, s, "d") }, []string{"d"}},
	}, others...)
	for _, tc := range cases {
		rev := logRevision(t, s, l)
		must(t, tc.name, tc.write())
		wantChanges(t, s, l, tc.name, rev, tc.names...)
	}
}

// testChangesAccumulate: changes since an older revision are the union of
// the later writes, each record once, sorted.
func testChangesAccumulate(t *testing.T, s datastore.Store, l changeLog) {
	ctx := t.Context()
	rev := logRevision(t, s, l)
	for _, n := range []string{"b", "a", "c"} {
		must(t, "create "+n, l.create(ctx, s, n))
	}
	must(t, "update", l.update(ctx, s, "b"))
	must(t, "delete", l.remove(ctx, s, "c"))
	wantChanges(t, s, l, "after five writes", rev, "a", "b", "c")
	wantChanges(t, s, l, "after the update", rev+4, "c")
	wantChanges(t, s, l, "at the current revision", rev+5)
}

// testChangesAtCurrent: at the current revision there is nothing new, in
// an empty store too, and reads change nothing.
func testChangesAtCurrent(t *testing.T, s datastore.Store, l changeLog) {
	wantChanges(t, s, l, "empty store", 0)
	must(t, "create", l.create(t.Context(), s, "a"))
	rev := logRevision(t, s, l)
	wantChanges(t, s, l, "at the current revision", rev)
	wantChanges(t, s, l, "read twice", rev)
}

// testChangesRevisionAlone: a negative revision asks for the current
// revision only, which every write advances.
func testChangesRevisionAlone(t *testing.T, s datastore.Store, l changeLog) {
	for i := range 2 {
		before := logRevision(t, s, l)
		must(t, "create", l.create(t.Context(), s, fmt.Sprint(i)))
		got, err := l.since(t.Context(), s, -1)
		must(t, l.name+" changes since -1", err)
		if got.complete || len(got.ids) != 0 || got.revision != before+1 {
			t.Errorf("%s changes since -1 after a write at revision %d = %+v, want incomplete at revision %d without IDs", l.name, before, got, before+1)
		}
	}
}

// testChangesAhead: a revision the store never reached (a server that
// remembers another database's revision) is not complete.
func testChangesAhead(t *testing.T, s datastore.Store, l changeLog) {
	rev := logRevision(t, s, l)
	got, err := l.since(t.Context(), s, rev+10)
	must(t, l.name+" changes", err)
	if got.complete || got.revision != rev {
		t.Errorf("%s changes since %d = %+v, want incomplete at revision %d", l.name, rev+10, got, rev)
	}
}

// testChangesFailedWrite: a refused write is rolled back with its change
// log row.
func testChangesFailedWrite(t *testing.T, s datastore.Store, l changeLog) {
	ctx := t.Context()
	must(t, "create", l.create(ctx, s, refusedName))
	others, err := l.refusals(ctx, s)
	must(t, "seed the refused writes", err)
	rev := logRevision(t, s, l)
	cases := append([]refusedWrite{
		{"create twice", func() error { return l.create(ctx, s, refusedName) }, datastore.ErrAlreadyExists},
		{"update absent", func() error { return l.update(ctx, s, "absent") }, datastore.ErrNotFound},
		{"delete absent", func() error { return l.remove(ctx, s, "absent") }, datastore.ErrNotFound},
	}, others...)
	for _, tc := range cases {
		wantErr(t, tc.name, tc.write(), tc.want)
	}
	wantChanges(t, s, l, "after refused writes", rev)
}

// RunChangesPruning checks that each change log keeps the latest kept
// revisions and reports older ones incomplete. open must return a new,
// empty store whose logs keep kept revisions.
func RunChangesPruning(t *testing.T, open func(t *testing.T, kept int64) datastore.Store) {
	for _, l := range changeLogs {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			testChangesPruning(t, open, l)
		})
	}
}

func testChangesPruning(t *testing.T, open func(t *testing.T, kept int64) datastore.Store, l changeLog) {
	const kept = 3
	s := open(t, kept)
	ctx := t.Context()
	rev0 := logRevision(t, s, l)
	var ids []string
	for i := range 6 {
		n := fmt.Sprintf("e%d", i)
		must(t, "create "+n, l.create(ctx, s, n))
		ids = append(ids, l.id(n))
	}
	rev := rev0 + 6
	for since := rev0; since <= rev; since++ {
		got, err := l.since(ctx, s, since)
		must(t, l.name+" changes", err)
		if since < rev-kept {
			if got.complete || got.revision != rev || len(got.records) != 0 {
				t.Errorf("%s changes since %d = %+v, want incomplete at revision %d, no record read: pruned", l.name, since, got, rev)
			}
			continue
		}
		want := ids[since-rev0:]
		if !got.complete || got.revision != rev || !slices.Equal(got.ids, want) {
			t.Errorf("%s changes since %d = %+v, want complete at revision %d with %q", l.name, since, got, rev, want)
		}
		if l.readsRecords && !slices.Equal(got.records, want) {
			t.Errorf("%s changes since %d read the records %q, want %q", l.name, since, got.records, want)
		}
	}
}

// testConcurrentChanges: a reader following a change log through one
// server while records are written through two misses none of them: no
// revision becomes visible before a lower one, else the follower would
// move past the lower revision before its change was readable. Where the
// log reads the changed records along, each is read with its change,
// never one the changes do not name (entryLog.since).
func testConcurrentChanges(t *testing.T, a, b datastore.Store, l changeLog) {
	ctx := t.Context()
	const n = 24
	last := logRevision(t, b, l)
	seen := map[string]bool{}
	follow := func() error {
		got, err := l.since(ctx, b, last)
		if err != nil {
			return err
		}
		if !got.complete {
			return fmt.Errorf("%s changes since %d = %+v: incomplete", l.name, last, got)
		}
		for _, id := range got.ids {
			seen[id] = true
			// The race deletes nothing: a log that reads the changed
			// records with the changes, in their snapshot, reads each.
			if l.readsRecords && !slices.Contains(got.records, id) {
				return fmt.Errorf("%s changes since %d = %+v: %s changed but not read", l.name, last, got, id)
			}
		}
		last = got.revision
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
		return l.raceWrite(ctx, s, fmt.Sprintf("w%02d", i), i)
	})
	close(done)
	must(t, "follow the change log", <-followed)
	for i, err := range errs {
		must(t, fmt.Sprintf("%s writes %d", l.name, i), err)
	}
	for i := range n {
		if id := l.id(fmt.Sprintf("w%02d", i)); !seen[id] {
			t.Errorf("%s %s written concurrently never appeared in the change log followed from revision to revision", l.name, id)
		}
	}
}
