package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// SetBundle creates or replaces a trust domain's bundle. Writing the data
// already stored changes nothing, not even the bundles revision.
func (s *Store) SetBundle(ctx context.Context, b *datastore.Bundle) error {
	if err := b.Validate(); err != nil {
		return pgError("postgres: set bundle: %w", err)
	}
	if err := s.writeTx(ctx, func(tx pgx.Tx) error { return upsertBundle(ctx, tx, b) }); err != nil {
		return pgError("postgres: %w", err)
	}
	return nil
}

// upsertBundle creates or replaces b in the caller's transaction,
// advancing the bundles revision when the data changed.
func upsertBundle(ctx context.Context, tx pgx.Tx, b *datastore.Bundle) error {
	tag, err := tx.Exec(ctx, `INSERT INTO bundles (trust_domain, data) VALUES ($1, $2)
		ON CONFLICT (trust_domain) DO UPDATE SET data = excluded.data WHERE bundles.data <> excluded.data`, b.TrustDomain, b.Data)
	if err != nil {
		return fmt.Errorf("set bundle %q: %w", b.TrustDomain, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	if err := bumpBundlesRevision(ctx, tx); err != nil {
		return fmt.Errorf("set bundle %q: %w", b.TrustDomain, err)
	}
	return nil
}

// updateBundleAttempts bounds UpdateBundle's runs: a run fails only when a
// racing transaction inserted the first bundle of the trust domain, after
// which the row exists and the next run locks it.
const updateBundleAttempts = 3

// UpdateBundle reads the bundle FOR UPDATE, changes it with fn and stores
// it in one transaction: a concurrent UpdateBundle of the same trust
// domain waits on the row lock and then reads this one's result. When
// there is no row to lock yet, racing creators collide on the primary key
// and the loser runs again against the winner's bundle.
func (s *Store) UpdateBundle(ctx context.Context, trustDomain string, fn func(*datastore.Bundle) (*datastore.Bundle, error)) (*datastore.Bundle, error) {
	var out *datastore.Bundle
	var err error
	for range updateBundleAttempts {
		err = s.writeTx(ctx, func(tx pgx.Tx) error {
			cur, err := loadBundle(ctx, tx, trustDomain, " FOR UPDATE")
			if err != nil {
				return err
			}
			if out, err = datastore.ApplyBundleUpdate(trustDomain, cur, fn); err != nil {
				return err
			}
			if cur == nil {
				if _, err := tx.Exec(ctx, `INSERT INTO bundles (trust_domain, data) VALUES ($1, $2)`, out.TrustDomain, out.Data); err != nil {
					return err
				}
				return bumpBundlesRevision(ctx, tx)
			}
			return upsertBundle(ctx, tx, out)
		})
		if !isUniqueViolation(err) {
			break
		}
	}
	if err != nil {
		return nil, pgError("postgres: update bundle %q: %w", trustDomain, err)
	}
	return out, nil
}

// CreateBundle stores a new bundle; ErrAlreadyExists if there is one.
func (s *Store) CreateBundle(ctx context.Context, b *datastore.Bundle) error {
	if err := b.Validate(); err != nil {
		return pgError("postgres: create bundle: %w", err)
	}
	err := s.writeTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO bundles (trust_domain, data) VALUES ($1, $2)
			ON CONFLICT (trust_domain) DO NOTHING`, b.TrustDomain, b.Data)
		switch {
		case err != nil:
			return err
		case tag.RowsAffected() == 0:
			return datastore.ErrAlreadyExists
		}
		return bumpBundlesRevision(ctx, tx)
	})
	switch {
	case errors.Is(err, datastore.ErrAlreadyExists):
		return pgError("postgres: bundle %q: %w", b.TrustDomain, err)
	case err != nil:
		return pgError("postgres: create bundle %q: %w", b.TrustDomain, err)
	}
	return nil
}

// GetBundle returns a trust domain's bundle.
func (s *Store) GetBundle(ctx context.Context, trustDomain string) (*datastore.Bundle, error) {
	b, err := loadBundle(ctx, s.pool, trustDomain, "")
	switch {
	case err != nil:
		return nil, pgError("postgres: %w", err)
	case b == nil:
		return nil, pgError("postgres: bundle %q: %w", trustDomain, datastore.ErrNotFound)
	}
	return b, nil
}

// loadBundle reads a trust domain's bundle from q, with the locking clause
// lock ("" or " FOR UPDATE"); nil when absent.
func loadBundle(ctx context.Context, q querier, trustDomain, lock string) (*datastore.Bundle, error) {
	b := &datastore.Bundle{TrustDomain: trustDomain}
	err := q.QueryRow(ctx, `SELECT data FROM bundles WHERE trust_domain = $1`+lock, trustDomain).Scan(&b.Data)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get bundle %q: %w", trustDomain, err)
	}
	return b, nil
}

// ListBundles returns every bundle ordered by trust domain.
func (s *Store) ListBundles(ctx context.Context) ([]*datastore.Bundle, error) {
	rs, err := s.pool.Query(ctx, `SELECT trust_domain, data FROM bundles ORDER BY trust_domain`)
	if err != nil {
		return nil, pgError("postgres: list bundles: %w", err)
	}
	var bs []*datastore.Bundle
	err = eachRow(rs, func(r pgx.Rows) error {
		b := new(datastore.Bundle)
		if err := r.Scan(&b.TrustDomain, &b.Data); err != nil {
			return err
		}
		bs = append(bs, b)
		return nil
	})
	if err != nil {
		return nil, pgError("postgres: list bundles: %w", err)
	}
	return bs, nil
}
