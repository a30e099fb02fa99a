package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/svidkit/svidkit/pkg/server/datastore"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Store is a datastore.Store backed by one SQLite database file.
type Store struct {
	write *sql.DB // one connection: serialises writers in this process
	read  *sql.DB // query-only connections for concurrent readers
	// lock is the held lock file (nil for a Shared store): one server
	// process per database.
	lock *os.File
	// changesKept is how many revisions the entry and agent change logs
	// keep.
	changesKept int64
	// changes announces the writes made through this store.
	changes datastore.Announcer
}

var (
	_ datastore.Store          = (*Store)(nil)
	_ datastore.ChangeNotifier = (*Store)(nil)
)

// SubscribeChanges announces every committed entry, bundle or agent write
// made through this Store. The server holds its database alone (see
// lockDatabase), so these are all the writes but a Shared handle's, which
// the server finds at its next revision check.
func (s *Store) SubscribeChanges() (<-chan struct{}, func()) {
	return s.changes.Subscribe()
}

// Open opens (creating if needed) the database named by connectionString —
// a file path or a "file:" URI, as in SPIRE's connection_string — and
// applies pending schema migrations. A missing parent directory is created
// 0700 and a new database file 0600. log may be nil.
func Open(ctx context.Context, connectionString string, log *slog.Logger) (*Store, error) {
	return OpenConfig(ctx, Config{ConnString: connectionString, Log: log})
}

// Config are Open's inputs with the options Open leaves at their defaults.
type Config struct {
	// ConnString is a file path or a "file:" URI.
	ConnString string
	// DisableMigration makes OpenConfig refuse a database whose schema is
	// older than this build's instead of migrating it (SPIRE's
	// disable_migration).
	DisableMigration bool
	// Log receives migration messages; nil discards them.
	Log *slog.Logger
	// Shared opens the database without taking its lock (see
	// lockDatabase), alongside the server that holds it: for tests and
	// tools that stand in for another writer. A server never sets it.
	Shared bool
	// EntryChangesKept is how many of the latest entries revisions the
	// entry change log keeps (see Store.EntryChangesSince), and of agents
	// revisions the agent change log (Store.AgentChangesSince); 0 means
	// datastore.DefaultEntryChangesKept.
	EntryChangesKept int64
}

// OpenConfig is Open with cfg's options. Unless cfg.Shared, the store
// holds an exclusive lock on the database for its lifetime, and opening a
// database another store holds (in this process or another) fails with an
// error that says so.
func OpenConfig(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.EntryChangesKept < 0 {
		return nil, fmt.Errorf("sqlite: open %q: entry changes kept: %d is negative", cfg.ConnString, cfg.EntryChangesKept)
	}
	s, err := open(ctx, cfg.ConnString, !cfg.DisableMigration, cfg.Shared, cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", cfg.ConnString, err)
	}
	s.changesKept = cmp.Or(cfg.EntryChangesKept, datastore.DefaultEntryChangesKept)
	return s, nil
}

func open(ctx context.Context, cs string, apply, shared bool, log *slog.Logger) (s *Store, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t, err := parseConnString(cs)
	if err != nil {
		return nil, err
	}
	if err := createFile(t.path); err != nil {
		return nil, err
	}
	var lock *os.File
	if !shared {
		if lock, err = lockDatabase(t.path); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				err = errors.Join(err, lock.Close())
			}
		}()
	}
	write, err := sql.Open("sqlite", t.dsn(true))
	if err != nil {
		return nil, fmt.Errorf("open write pool: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	if err := migrate(ctx, write, apply, log); err != nil {
		return nil, errors.Join(err, write.Close())
	}
	read, err := sql.Open("sqlite", t.dsn(false))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open read pool: %w", err), write.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open read pool: %w", err), read.Close(), write.Close())
	}
	log.Debug("opened sqlite datastore", "path", t.path)
	return &Store{write: write, read: read, lock: lock}, nil
}

// createFile makes the database's parent directory (0700) and the file
// itself (0600) when missing, so SQLite never creates them with the process
// umask's looser defaults. SQLite gives the -wal and -shm files the
// database file's mode. Existing files keep their mode.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return nil
}

// SchemaVersion returns the database's recorded schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	v, err := schemaVersion(ctx, s.read)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return v, nil
}

// Close closes both connection pools and then releases the database's
// lock. Calling it again is harmless.
func (s *Store) Close() error {
	err := errors.Join(s.read.Close(), s.write.Close())
	if s.lock != nil {
		if cerr := s.lock.Close(); cerr != nil && !errors.Is(cerr, os.ErrClosed) {
			err = errors.Join(err, cerr)
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}
