package postgres_test

import (
	"os"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/pgtest"
	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
	"github.com/svidkit/svidkit/pkg/server/datastore/storetest"
)

// pg is this package's PostgreSQL server, started by TestMain.
var pg pgtest.Server

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) datastore.Store {
		return openConfig(t, postgres.Config{ConnString: pg.NewDatabase(t)})
	})
}

// openConfig opens a store with cfg and closes it when the test ends.
func openConfig(t testing.TB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), cfg)
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

// TestStoreShared runs the concurrency cases on two stores (two pools, as
// two servers have) on one database.
func TestStoreShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (datastore.Store, datastore.Store) {
		cs := pg.NewDatabase(t)
		return openConfig(t, postgres.Config{ConnString: cs}), openConfig(t, postgres.Config{ConnString: cs})
	})
}

func TestStoreChangesPruning(t *testing.T) {
	t.Parallel()
	storetest.RunChangesPruning(t, func(t *testing.T, kept int64) datastore.Store {
		return openConfig(t, postgres.Config{ConnString: pg.NewDatabase(t), EntryChangesKept: kept})
	})
}

// TestWithMetricsKeepsNotifier: the counting wrapper of a PostgreSQL store
// still announces changes, so that servers keep waking held syncs at once.
func TestWithMetricsKeepsNotifier(t *testing.T) {
	t.Parallel()
	s, err := datastore.WithMetrics(openConfig(t, postgres.Config{ConnString: pg.NewDatabase(t)}), nil)
	if err != nil {
		t.Fatalf("WithMetrics: %v", err)
	}
	n, ok := s.(datastore.ChangeNotifier)
	if !ok {
		t.Fatal("the wrapped PostgreSQL store is not a ChangeNotifier")
	}
	changes, cancel := n.SubscribeChanges()
	defer cancel()
	if _, err := s.CreateEntry(t.Context(), &datastore.Entry{SPIFFEID: "spiffe://td/w", ParentID: "spiffe://td/p",
		Selectors: selector.NewSet(selector.Selector{Type: "unix", Value: "uid:1"})}); err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}
	select {
	case <-changes:
	case <-time.After(10 * time.Second):
		t.Fatal("no change announced within 10s of CreateEntry through the wrapper")
	}
}
