package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/svidkit/svidkit/pkg/server/datastore/internal/migration"
)

// migrationFiles holds the schema history, one file per version.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the pg_advisory_lock key that serialises servers
// migrating one database ("svidkit" in ASCII).
const migrationLockKey int64 = 0x737669646b6974

// migrate checks the schema version and, with apply, brings the schema up
// to date in one transaction. It runs under a session advisory lock, so
// two servers starting at once on an empty database do not both migrate:
// the second waits, then finds the schema current.
func migrate(ctx context.Context, pool *pgxpool.Pool, apply bool, log *slog.Logger) (err error) {
	ms, err := migration.Load(migrationFiles)
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		// A cancelled ctx must not leave the lock held on a pooled
		// connection.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrationLockKey); uerr != nil {
			conn.Conn().Close(uctx)
			err = errors.Join(err, fmt.Errorf("migrate: release advisory lock: %w", uerr))
		}
	}()
	return pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{}, func(tx pgx.Tx) error {
		current, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if err := migration.Check(current, latest, apply); err != nil {
			return err
		}
		if current == latest {
			return nil
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT NOT NULL PRIMARY KEY,
			name       TEXT   NOT NULL,
			applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		for _, m := range ms[current:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %q: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().Unix()); err != nil {
				return fmt.Errorf("record migration %q: %w", m.Name, err)
			}
			log.Info("applied datastore migration", "version", m.Version, "name", m.Name)
		}
		return nil
	})
}

// schemaVersion returns the highest recorded migration, 0 for a database
// without schema_migrations.
func schemaVersion(ctx context.Context, q querier) (int64, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int64
	if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// SchemaVersion returns the database's recorded schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	v, err := schemaVersion(ctx, s.pool)
	if err != nil {
		return 0, pgError("postgres: %w", err)
	}
	return v, nil
}
