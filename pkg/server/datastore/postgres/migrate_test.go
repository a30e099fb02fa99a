package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore/internal/migration"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
)

// latestVersion is the schema version this build migrates to.
func latestVersion(t *testing.T, cs string) int64 {
	t.Helper()
	s := openConfig(t, postgres.Config{ConnString: cs})
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// execSQL runs statements on the database of cs outside any store.
func execSQL(t *testing.T, cs string, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), cs)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range stmts {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestNewerSchemaRefused: a database migrated by a newer build is refused
// with both versions in the message, with and without disable_migration.
func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	cs := pg.NewDatabase(t)
	latest := latestVersion(t, cs)
	execSQL(t, cs, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)`)
	for _, disable := range []bool{false, true} {
		_, err := postgres.Open(t.Context(), postgres.Config{ConnString: cs, DisableMigration: disable})
		if !errors.Is(err, migration.ErrTooNew) {
			t.Fatalf("Open (disable_migration %v) of a version-99 database: error %v, want ErrTooNew", disable, err)
		}
		want := "database schema version 99 is newer than this build supports (" + strconv.FormatInt(latest, 10) + ")"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestDisableMigrationRefusesOldSchema: with disable_migration an empty
// (or older) database is refused with a message naming both versions and
// the migrate command, and nothing is created; once migrated it opens.
func TestDisableMigrationRefusesOldSchema(t *testing.T) {
	t.Parallel()
	cs := pg.NewDatabase(t)
	_, err := postgres.Open(t.Context(), postgres.Config{ConnString: cs, DisableMigration: true})
	if !errors.Is(err, migration.ErrOutdated) {
		t.Fatalf("Open with disable_migration of an empty database: error %v, want ErrOutdated", err)
	}
	for _, want := range []string{"database schema version 0 is older than this build needs (", "svidkit-server migrate -config"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	var tables int
	conn, err := pgx.Connect(t.Context(), cs)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("refused Open left %d tables behind", tables)
	}
	latestVersion(t, cs) // migrates
	openConfig(t, postgres.Config{ConnString: cs, DisableMigration: true})
}

// TestConcurrentStartMigratesOnce: servers starting at once on an empty
// database all open it, and the schema is migrated exactly once (the
// advisory lock makes the others wait and find it current).
func TestConcurrentStartMigratesOnce(t *testing.T) {
	t.Parallel()
	cs := pg.NewDatabase(t)
	const n = 4
	start := make(chan struct{})
	errs := make([]error, n)
	stores := make([]*postgres.Store, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), postgres.Config{ConnString: cs})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("server %d: Open: %v", i, err)
			continue
		}
		stores[i].Close()
	}
	var rows, versions int64
	conn, err := pgx.Connect(t.Context(), cs)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || rows == 0 {
		t.Errorf("schema_migrations holds %d rows for %d versions, want one per version", rows, versions)
	}
}
