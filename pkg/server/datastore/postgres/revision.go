package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// bumpBundlesRevision advances the bundles change counter in the caller's
// transaction and notifies changesChannel, which PostgreSQL delivers to
// every listening server only on commit; as bumpEntriesRevision, for every
// bundle write. Without arguments pgx sends the two statements in one
// round trip.
func bumpBundlesRevision(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `UPDATE bundles_revision SET revision = revision + 1 WHERE id = 1; NOTIFY `+changesChannel); err != nil {
		return fmt.Errorf("bump bundles revision: %w", err)
	}
	return nil
}

// EntriesRevision returns the counter every entry write advances.
func (s *Store) EntriesRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.pool.QueryRow(ctx, `SELECT revision FROM entries_revision WHERE id = 1`).Scan(&rev); err != nil {
		return 0, pgError("postgres: read entries revision: %w", err)
	}
	return rev, nil
}

// BundlesRevision returns the counter every bundle change advances.
func (s *Store) BundlesRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.pool.QueryRow(ctx, `SELECT revision FROM bundles_revision WHERE id = 1`).Scan(&rev); err != nil {
		return 0, pgError("postgres: read bundles revision: %w", err)
	}
	return rev, nil
}
