package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// SetBundle creates or replaces a trust domain's bundle.
func (s *Store) SetBundle(ctx context.Context, b *datastore.Bundle) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("sqlite: set bundle: %w", err)
	}
	if _, err := s.write.ExecContext(ctx, `INSERT INTO bundles (trust_domain, data) VALUES (?, ?)
		ON CONFLICT (trust_domain) DO UPDATE SET data = excluded.data`, b.TrustDomain, b.Data); err != nil {
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
	res, err := s.write.ExecContext(ctx, `DELETE FROM bundles WHERE trust_domain = ?`, trustDomain)
	if err != nil {
		return fmt.Errorf("sqlite: delete bundle %q: %w", trustDomain, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete bundle %q: %w", trustDomain, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: bundle %q: %w", trustDomain, datastore.ErrNotFound)
	}
	return nil
}
