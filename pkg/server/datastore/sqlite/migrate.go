package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore/internal/migration"
)

// migrationFiles holds the schema history, one file per version.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate brings the schema up to date in one transaction, so a failed step
// leaves the database as it was. It refuses a database whose recorded
// version is newer than the newest embedded migration, and without apply
// one that is older.
func migrate(ctx context.Context, db *sql.DB, apply bool, log *slog.Logger) error {
	ms, err := migration.Load(migrationFiles)
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	return inTx(ctx, db, nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT NOT NULL PRIMARY KEY,
			name       TEXT   NOT NULL,
			applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		current, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if err := migration.Check(current, latest, apply); err != nil {
			return err
		}
		for _, m := range ms[current:] {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %q: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().Unix()); err != nil {
				return fmt.Errorf("record migration %q: %w", m.Name, err)
			}
			log.Info("applied datastore migration", "version", m.Version, "name", m.Name)
		}
		return nil
	})
}

// schemaVersion returns the highest recorded migration, 0 for a new database.
func schemaVersion(ctx context.Context, q querier) (int64, error) {
	var v int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
