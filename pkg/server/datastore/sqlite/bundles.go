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
	if err := s.writeTx(ctx, func(tx *sql.Tx) error { return upsertBundle(ctx, tx, b) }); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// upsertBundle creates or replaces b in the caller's write transaction,
// advancing the bundles revision when the data changed.
func upsertBundle(ctx context.Context, tx *sql.Tx, b *datastore.Bundle) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO bundles (trust_domain, data) VALUES (?, ?)
		ON CONFLICT (trust_domain) DO UPDATE SET data = excluded.data WHERE data != excluded.data`, b.TrustDomain, b.Data)
	if err != nil {
		return fmt.Errorf("set bundle %q: %w", b.TrustDomain, err)
	}
	if err := bumpBundlesRevisionIf(ctx, tx, res); err != nil {
		return fmt.Errorf("set bundle %q: %w", b.TrustDomain, err)
	}
	return nil
}

// CreateBundle stores a new bundle; ErrAlreadyExists if there is one.
func (s *Store) CreateBundle(ctx context.Context, b *datastore.Bundle) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("sqlite: create bundle: %w", err)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO bundles (trust_domain, data) VALUES (?, ?)
			ON CONFLICT (trust_domain) DO NOTHING`, b.TrustDomain, b.Data)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return datastore.ErrAlreadyExists
		}
		return bumpBundlesRevisionIf(ctx, tx, res)
	})
	switch {
	case errors.Is(err, datastore.ErrAlreadyExists):
		return fmt.Errorf("sqlite: bundle %q: %w", b.TrustDomain, err)
	case err != nil:
		return fmt.Errorf("sqlite: create bundle %q: %w", b.TrustDomain, err)
	}
	return nil
}

// GetBundle returns a trust domain's bundle.
func (s *Store) GetBundle(ctx context.Context, trustDomain string) (*datastore.Bundle, error) {
	b, err := loadBundle(ctx, s.read, trustDomain)
	switch {
	case err != nil:
		return nil, fmt.Errorf("sqlite: %w", err)
	case b == nil:
		return nil, fmt.Errorf("sqlite: bundle %q: %w", trustDomain, datastore.ErrNotFound)
	}
	return b, nil
}

// loadBundle reads a trust domain's bundle from q; nil when absent.
func loadBundle(ctx context.Context, q querier, trustDomain string) (*datastore.Bundle, error) {
	b := &datastore.Bundle{TrustDomain: trustDomain}
	err := q.QueryRowContext(ctx, `SELECT data FROM bundles WHERE trust_domain = ?`, trustDomain).Scan(&b.Data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get bundle %q: %w", trustDomain, err)
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
