package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
	"github.com/svidkit/svidkit/pkg/server/datastore/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) datastore.Store {
		return openTemp(t)
	})
}

// openTemp opens a store on a new file in t's temporary directory and
// closes it when the test ends.
func openTemp(t testing.TB) *sqlite.Store {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "datastore.sqlite3"))
}

// openPath opens a store on path and closes it when the test ends.
func openPath(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestStoreShared runs the concurrency cases on two stores opened on one
// file: a server's and a Shared one beside it, as a tool writing to a
// running server's database has (a second server is refused).
func TestStoreShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (datastore.Store, datastore.Store) {
		path := filepath.Join(t.TempDir(), "datastore.sqlite3")
		first := openPath(t, path)
		second, err := sqlite.OpenConfig(t.Context(), sqlite.Config{ConnString: path, Shared: true})
		if err != nil {
			t.Fatalf("OpenConfig(Shared): %v", err)
		}
		t.Cleanup(func() { second.Close() })
		return first, second
	})
}

func TestStoreChangesPruning(t *testing.T) {
	t.Parallel()
	storetest.RunChangesPruning(t, func(t *testing.T, kept int64) datastore.Store {
		s, err := sqlite.OpenConfig(t.Context(), sqlite.Config{
			ConnString: filepath.Join(t.TempDir(), "datastore.sqlite3"), EntryChangesKept: kept,
		})
		if err != nil {
			t.Fatalf("OpenConfig: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
