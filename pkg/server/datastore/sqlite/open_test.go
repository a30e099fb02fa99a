package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

func testEntry(i int) *datastore.Entry {
	return &datastore.Entry{
		SPIFFEID:  fmt.Sprintf("spiffe://example.org/w%d", i),
		ParentID:  "spiffe://example.org/agent",
		Selectors: selector.NewSet(selector.Selector{Type: "unix", Value: fmt.Sprintf("uid:%d", i)}),
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	e, err := s.CreateEntry(ctx, testEntry(1))
	if err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}
	if _, err := s.CreateAgent(ctx, &datastore.Agent{SPIFFEID: "spiffe://example.org/agent"}); err != nil {
		t.Fatalf("CreateAgent: %v", err)
	}
	if err := s.CreateJoinToken(ctx, &datastore.JoinToken{Token: "tok", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("CreateJoinToken: %v", err)
	}
	if err := s.SetBundle(ctx, &datastore.Bundle{TrustDomain: "example.org", Data: []byte("{}")}); err != nil {
		t.Fatalf("SetBundle: %v", err)
	}
	rev, err := s.EntriesRevision(ctx)
	if err != nil {
		t.Fatalf("EntriesRevision: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openPath(t, path)
	got, err := s.GetEntry(ctx, e.ID)
	if err != nil {
		t.Fatalf("GetEntry after reopen: %v", err)
	}
	if got.SPIFFEID != e.SPIFFEID || got.CreatedAt != e.CreatedAt || len(got.Selectors) != 1 {
		t.Errorf("entry after reopen = %+v, want %+v", got, e)
	}
	if _, err := s.GetAgent(ctx, "spiffe://example.org/agent"); err != nil {
		t.Errorf("GetAgent after reopen: %v", err)
	}
	if _, err := s.ConsumeJoinToken(ctx, "tok", time.Now()); err != nil {
		t.Errorf("ConsumeJoinToken after reopen: %v", err)
	}
	if _, err := s.GetBundle(ctx, "example.org"); err != nil {
		t.Errorf("GetBundle after reopen: %v", err)
	}
	if rev2, err := s.EntriesRevision(ctx); err != nil || rev2 != rev {
		t.Errorf("EntriesRevision after reopen = %d, %v; want %d", rev2, err, rev)
	}
}

func TestFileModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "run", "spire", "data")
	path := filepath.Join(dir, "datastore.sqlite3")
	s := openPath(t, path)
	// A write makes SQLite create the WAL file, which must be as private.
	if _, err := s.CreateEntry(t.Context(), testEntry(1)); err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}
	tests := []struct {
		name string
		path string
		want os.FileMode
	}{
		{"parent directory", dir, os.ModeDir | 0o700},
		{"database file", path, 0o600},
		{"wal file", path + "-wal", 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tt.want {
				t.Errorf("mode of %s = %v, want %v", tt.path, fi.Mode(), tt.want)
			}
		})
	}
}

// rawDB opens the database file directly, bypassing the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSchemaVersionRecorded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	for range 2 { // the second open must not re-apply anything
		s, err := sqlite.Open(ctx, path, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatalf("SchemaVersion: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if v < 1 {
			t.Fatalf("SchemaVersion = %d, want >= 1", v)
		}
		var rows, maxV int64
		if err := rawDB(t, path).QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &maxV); err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		if rows != v || maxV != v {
			t.Errorf("schema_migrations has %d rows, max %d; want %d and %d", rows, maxV, v, v)
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	s := openPath(t, path)
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	if err := s.Close(); err != nil { // one server per database: this one stops
		t.Fatalf("Close: %v", err)
	}
	future := v + 1
	if _, err := rawDB(t, path).ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future.sql', 0)`, future); err != nil {
		t.Fatalf("record future version: %v", err)
	}
	_, err = sqlite.Open(ctx, path, nil)
	if err == nil {
		t.Fatal("Open of a newer schema succeeded, want an error")
	}
	for _, want := range []string{path, fmt.Sprint(future), "newer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestBadConnectionString(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.sqlite3")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cs   string
	}{
		{"empty", ""},
		{"memory", ":memory:"},
		{"memory uri", "file::memory:?cache=shared"},
		{"memory mode", "file:" + filepath.Join(dir, "m.db") + "?mode=memory"},
		{"remote authority", "file://otherhost/var/db.sqlite3"},
		{"bad escape", "file:" + dir + "/x%zz.db"},
		{"bad parameters", filepath.Join(dir, "p.db") + "?a=%zz"},
		{"directory", dir},
		{"trailing slash", dir + "/sub/"},
		{"under a regular file", filepath.Join(file, "db.sqlite3")},
		{"not a database", garbage},
		{"bad driver parameter", filepath.Join(dir, "d.db") + "?_txlock=sometimes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tt.cs, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.cs)
			}
			if want := fmt.Sprintf("%q", tt.cs); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name the connection string %s", err, want)
			}
		})
	}
}

func TestConnectionStringForms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A plain path cannot contain "?" (it starts parameters); URIs escape it.
	path := filepath.Join(dir, "sub dir", "db#%.sqlite3")
	forms := []string{
		path,
		"file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23", " ", "%20").Replace(path),
		"file://" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path) + "?cache=private",
		"file://localhost" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path),
	}
	for i, cs := range forms {
		t.Run(cs, func(t *testing.T) {
			s := openPath(t, cs)
			n, err := s.CountEntries(t.Context())
			if err != nil {
				t.Fatalf("CountEntries: %v", err)
			}
			if n != i {
				t.Fatalf("CountEntries = %d, want %d: form %q opened a different file", n, i, cs)
			}
			if _, err := s.CreateEntry(t.Context(), testEntry(i)); err != nil {
				t.Fatalf("CreateEntry: %v", err)
			}
		})
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at %q: %v", path, err)
	}
}

// TestTwoStoresShareFile models a server and another writer beside it (a
// Shared store) on one database: both write concurrently without
// SQLITE_BUSY and each sees the other's changes.
func TestTwoStoresShareFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	shared, err := sqlite.OpenConfig(ctx, sqlite.Config{ConnString: path, Shared: true})
	if err != nil {
		t.Fatalf("OpenConfig(Shared): %v", err)
	}
	t.Cleanup(func() { shared.Close() })
	stores := []*sqlite.Store{openPath(t, path), shared}
	rev0, err := stores[1].EntriesRevision(ctx)
	if err != nil {
		t.Fatalf("EntriesRevision: %v", err)
	}
	const perStore = 25
	errs := make(chan error, 2*perStore)
	var wg sync.WaitGroup
	for si, s := range stores {
		for i := range perStore {
			wg.Go(func() {
				_, err := s.CreateEntry(ctx, testEntry(si*perStore+i))
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("CreateEntry: %v", err)
		}
	}
	for i, s := range stores {
		n, err := s.CountEntries(ctx)
		if err != nil || n != 2*perStore {
			t.Errorf("store %d: CountEntries = %d, %v; want %d", i, n, err, 2*perStore)
		}
	}
	rev, err := stores[1].EntriesRevision(ctx)
	if err != nil {
		t.Fatalf("EntriesRevision: %v", err)
	}
	if rev != rev0+2*perStore {
		t.Errorf("EntriesRevision = %d, want %d", rev, rev0+2*perStore)
	}
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite3"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if _, err := s.CountEntries(t.Context()); err == nil {
		t.Error("CountEntries after Close succeeded, want an error")
	}
}
