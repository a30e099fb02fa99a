package sqlite_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// TestMigrationFederatesWithNames: migration 0002 rewrites the
// spiffe://<td> form that earlier versions stored for federates_with to
// the trust domain name that bundles are keyed by, dropping a row that
// would duplicate the entry's name form. The database is rolled back to
// version 1 by hand, as an earlier build left it.
func TestMigrationFederatesWithNames(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	for _, q := range []string{
		`DROP TABLE federation_relationships`,
		`DROP TABLE bundles_revision`, // 0003
		`DROP TABLE entry_changes`,    // 0004
		`ALTER TABLE entries_revision DROP COLUMN changes_floor`,
		`DROP INDEX entries_owner`, // 0005
		`ALTER TABLE entries DROP COLUMN owner`,
		`DROP TABLE agent_changes`, // 0006
		`DROP TABLE agents_revision`,
		`DELETE FROM schema_migrations WHERE version >= 2`,
		`INSERT INTO entries (id, spiffe_id, parent_id, selectors_hash, created_at) VALUES ('e1', 'spiffe://td/a', 'spiffe://td/p', 'h1', 1)`,
		`INSERT INTO entries (id, spiffe_id, parent_id, selectors_hash, created_at) VALUES ('e2', 'spiffe://td/b', 'spiffe://td/p', 'h2', 1)`,
		`INSERT INTO entry_federates_with (entry_id, trust_domain) VALUES ('e1', 'spiffe://a.test'), ('e1', 'a.test'), ('e2', 'spiffe://b.test'), ('e2', 'c.test')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s = openPath(t, path)
	for id, want := range map[string][]string{"e1": {"a.test"}, "e2": {"b.test", "c.test"}} {
		e, err := s.GetEntry(ctx, id)
		if err != nil {
			t.Fatalf("GetEntry %s: %v", id, err)
		}
		if !slices.Equal(e.FederatesWith, want) {
			t.Errorf("entry %s federates with %v after migration, want %v", id, e.FederatesWith, want)
		}
	}
	if _, err := s.ListFederationRelationships(ctx); err != nil {
		t.Errorf("ListFederationRelationships after migration: %v", err)
	}
}
