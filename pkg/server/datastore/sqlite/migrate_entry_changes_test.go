package sqlite_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// TestMigrationEntryChangesFloor: a database written before the entry
// change log (migration 0004) has no record of its earlier entry writes,
// so the log reports them incomplete and a server reads every entry once;
// writes after the migration are logged. The database is rolled back to
// version 3 by hand, as an earlier build left it.
func TestMigrationEntryChangesFloor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := s.CreateEntry(ctx, &datastore.Entry{ID: id, SPIFFEID: "spiffe://td/" + id, ParentID: "spiffe://td/p"}); err != nil {
			t.Fatalf("CreateEntry: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	for _, q := range []string{
		`DROP TABLE agent_changes`, // 0006
		`DROP TABLE agents_revision`,
		`DROP INDEX entries_owner`, // 0005
		`ALTER TABLE entries DROP COLUMN owner`,
		`DROP TABLE entry_changes`, // 0004
		`ALTER TABLE entries_revision DROP COLUMN changes_floor`,
		`DELETE FROM schema_migrations WHERE version >= 4`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s = openPath(t, path)
	rev, err := s.EntriesRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := s.EntryChangesSince(ctx, rev-1, 0); err != nil || ch.Complete {
		t.Errorf("EntryChangesSince(%d) over writes from before the log = %+v, %v; want incomplete", rev-1, ch, err)
	}
	if _, err := s.CreateEntry(ctx, &datastore.Entry{ID: "c", SPIFFEID: "spiffe://td/c", ParentID: "spiffe://td/p"}); err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}
	if ch, err := s.EntryChangesSince(ctx, rev, 0); err != nil || !ch.Complete || !slices.Equal(ch.IDs, []string{"c"}) {
		t.Errorf("EntryChangesSince(%d) after the migration = %+v, %v; want complete with [c]", rev, ch, err)
	}
}
