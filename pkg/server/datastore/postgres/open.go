package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Config says how to reach the database; the fields are SPIRE's "sql"
// DataStore settings.
type Config struct {
	// ConnString is a libpq connection string, keyword/value
	// ("host=db dbname=svidkit sslmode=verify-full sslrootcert=ca.pem")
	// or URL ("postgresql://user@db/svidkit?sslmode=verify-full"); libpq's
	// TLS settings (sslmode, sslrootcert, sslcert, sslkey) apply.
	ConnString string
	// MaxOpenConns bounds the pool's connections; 0 keeps pgxpool's
	// default (the larger of 4 and the number of CPUs).
	MaxOpenConns int
	// ConnMaxLifetime closes connections older than this; 0 keeps
	// pgxpool's default (one hour).
	ConnMaxLifetime time.Duration
	// DisableMigration makes Open refuse a database whose schema is older
	// than this build's instead of migrating it, for rolling upgrades in
	// which an operator migrates (svidkit-server migrate) when the old
	// servers are gone.
	DisableMigration bool
	// Log receives migration and connection messages; nil discards them.
	Log *slog.Logger
	// EntryChangesKept is how many of the latest entries revisions the
	// entry change log keeps (see Store.EntryChangesSince), and of agents
	// revisions the agent change log (Store.AgentChangesSince); 0 means
	// datastore.DefaultEntryChangesKept.
	EntryChangesKept int64
}

// Store is a datastore.Store on a PostgreSQL database.
type Store struct {
	pool    *pgxpool.Pool
	changes *listener
	// changesKept is how many revisions the entry and agent change logs
	// keep.
	changesKept int64
}

var _ datastore.Store = (*Store)(nil)

// Open connects to the database, checks it answers and brings its schema
// up to date (or, with DisableMigration, checks that it is).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := open(ctx, cfg)
	if err != nil {
		return nil, pgError("postgres: open: %w", err)
	}
	return s, nil
}

func open(ctx context.Context, cfg Config) (*Store, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.EntryChangesKept < 0 {
		return nil, fmt.Errorf("entry changes kept: %d is negative", cfg.EntryChangesKept)
	}
	pc, err := pgxpool.ParseConfig(cfg.ConnString)
	if err != nil {
		return nil, parseError(err)
	}
	if cfg.MaxOpenConns > 0 {
		pc.MaxConns = int32(min(cfg.MaxOpenConns, 1<<30))
	}
	if cfg.ConnMaxLifetime > 0 {
		pc.MaxConnLifetime = cfg.ConnMaxLifetime
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s:%d database %q: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database, err)
	}
	if err := migrate(ctx, pool, !cfg.DisableMigration, log); err != nil {
		pool.Close()
		return nil, err
	}
	log.Debug("opened postgres datastore", "host", pc.ConnConfig.Host, "database", pc.ConnConfig.Database)
	return &Store{
		pool:        pool,
		changes:     newListener(pc.ConnConfig, log),
		changesKept: cmp.Or(cfg.EntryChangesKept, datastore.DefaultEntryChangesKept),
	}, nil
}

// Close closes the connection pool. Calling it again is harmless.
func (s *Store) Close() error {
	s.changes.close()
	s.pool.Close()
	return nil
}

// parseError words a connection string that pgx cannot use without
// quoting it: pgx's message quotes the string with passwords redacted
// only as far as it can recognise them, and a URL parse error quotes it
// whole. The cause (an unreadable sslrootcert, say) is kept otherwise.
func parseError(err error) error {
	const msg = "connection_string: cannot use it as a libpq keyword/value string or postgresql:// URL"
	cause := errors.Unwrap(err)
	var ue *url.Error
	if cause == nil || errors.As(cause, &ue) {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %w", msg, cause)
}
