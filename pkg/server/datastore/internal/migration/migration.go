// Package migration loads a datastore's embedded schema migrations
// (migrations/NNNN_name.sql, versions 1, 2, 3... without gaps) and words
// the schema-version errors the same way for every store.
package migration

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one embedded schema step.
type Migration struct {
	Version int64
	Name    string
	SQL     string
}

// Load reads the migrations/*.sql files of fsys, ordered by version, and
// checks that versions run 1, 2, 3... without gaps.
func Load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	ms := make([]Migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q: want NNNN_name.sql", base)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", base, err)
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(body)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	for i, m := range ms {
		if m.Version != int64(i+1) {
			return nil, fmt.Errorf("migration %q: want version %d", m.Name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations embedded")
	}
	return ms, nil
}

// ErrTooNew reports a database whose schema is newer than the running
// binary knows.
var ErrTooNew = errors.New("database schema is newer than this build")

// ErrOutdated reports a database whose schema is older than the running
// binary needs while migrations are disabled.
var ErrOutdated = errors.New("database schema is out of date")

// Check compares the database's schema version with the newest one this
// build embeds (latest). A newer database is refused (ErrTooNew), naming
// both versions; an older one is refused (ErrOutdated) when autoMigrate
// is off, telling the operator how to migrate.
func Check(current, latest int64, autoMigrate bool) error {
	switch {
	case current > latest:
		return fmt.Errorf("database schema version %d is newer than this build supports (%d): upgrade svidkit or use a matching database: %w", current, latest, ErrTooNew)
	case current < latest && !autoMigrate:
		return fmt.Errorf("database schema version %d is older than this build needs (%d) and disable_migration is set: run `svidkit-server migrate -config <server.conf>` with this build first: %w", current, latest, ErrOutdated)
	}
	return nil
}
