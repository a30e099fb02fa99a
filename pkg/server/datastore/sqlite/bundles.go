package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// SetBundle creates or replaces a trust domain's bundle. Writing the data
// already stored changes nothing, not even the bundles revision.
func (s *Store) SetBundle(ctx context.Context, b *datastore.Bundle) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("sqlite: set bundle: %w", err)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO bundles (trust_domain, data) VALUES (?, ?)
			ON CONFLICT (trust_domain) DO UPDATE SET data = excluded.data WHERE data != excluded.data`, b.TrustDomain, b.Data)
		if err != nil {
			return err
		}
		return bumpBundlesRevisionIf(ctx, tx, res)
	})
	if err != nil {
		return fmt.Errorf("sqlite: set bundle %q: %w", b.TrustDomain, err)
	}
	return nil
}

// GetBundle returns a trust domain's bundle.
func (s *Store) GetBundle(ctx context.Context, trustDomain string) (*datastore.Bundle, error) {
	b := &datastore.Bundle{TrustDomain: trustDomain}
	err := s.read.QueryRowContext(ctx, `SELECT data FROM bundles WHERE trust_domain = ?`, trustDomain).Scan(&b.Data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("sqlite: bundle %q: %w", trustDomain, datastore.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("sqlite: get bundle %q: %w", trustDomain, err)
	}
	return b, nil
}

// ListBundles returns every bundle ordered by trust domain.
func (s *Store) ListBundles(ctx context.Context) ([]*datastore.Bundle, error) {
	rs, err := s.read.QueryContext(ctx, `SELECT trust_domain, data FROM bundles ORDER BY trust_domain`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list bundles: %w", err)
	}
	var bs []*datastore.Bundle
	err = eachRow(rs, func(r *sql.Rows) error {
		b := new(datastore.Bundle)
		if err := r.Scan(&b.TrustDomain, &b.Data); err != nil {
			return err
		}
		bs = append(bs, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list bundles: %w", err)
	}
	return bs, nil
}

// DeleteBundle removes a trust domain's bundle.
func (s *Store) DeleteBundle(ctx context.Context, trustDomain string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM bundles WHERE trust_domain = ?`, trustDomain)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return datastore.ErrNotFound
		}
		return bumpBundlesRevisionIf(ctx, tx, res)
	})
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return fmt.Errorf("sqlite: bundle %q: %w", trustDomain, err)
	case err != nil:
		return fmt.Errorf("sqlite: delete bundle %q: %w", trustDomain, err)
	}
	return nil
}

// BundlesRevision returns the counter every bundle change advances.
func (s *Store) BundlesRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.read.QueryRowContext(ctx, `SELECT revision FROM bundles_revision WHERE id = 1`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("sqlite: read bundles revision: %w", err)
	}
	return rev, nil
}

// bumpBundlesRevisionIf advances the bundles revision in the caller's
// transaction when the write res reports changed a row.
func bumpBundlesRevisionIf(ctx context.Context, tx *sql.Tx, res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE bundles_revision SET revision = revision + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("bump bundles revision: %w", err)
	}
	return nil
}
