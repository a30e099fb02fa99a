package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// CreateFederationRelationship stores a new relationship and, when given,
// its trust domain bundle, in one transaction.
func (s *Store) CreateFederationRelationship(ctx context.Context, r *datastore.FederationRelationship) (*datastore.FederationRelationship, error) {
	if err := r.Validate(); err != nil {
		return nil, pgError("postgres: create federation relationship: %w", err)
	}
	out := copyRelationship(r)
	out.CreatedAt = fromNanos(time.Now().UnixNano())
	out.UpdatedAt = out.CreatedAt
	err := s.writeTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO federation_relationships (trust_domain, bundle_endpoint_url,
			bundle_endpoint_profile, endpoint_spiffe_id, created_at_ns, updated_at_ns) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (trust_domain) DO NOTHING`,
			out.TrustDomain, out.BundleEndpointURL, out.BundleEndpointProfile, out.EndpointSPIFFEID,
			toNanos(out.CreatedAt), toNanos(out.UpdatedAt))
		switch {
		case err != nil:
			return fmt.Errorf("insert federation relationship %q: %w", out.TrustDomain, err)
		case tag.RowsAffected() == 0:
			return fmt.Errorf("federation relationship %q: %w", out.TrustDomain, datastore.ErrAlreadyExists)
		}
		return relationshipBundle(ctx, tx, out)
	})
	if err != nil {
		return nil, pgError("postgres: create federation relationship: %w", err)
	}
	return out, nil
}

// UpdateFederationRelationship replaces a relationship's endpoint fields
// and, when given, its trust domain bundle, in one transaction.
func (s *Store) UpdateFederationRelationship(ctx context.Context, r *datastore.FederationRelationship) (*datastore.FederationRelationship, error) {
	if err := r.Validate(); err != nil {
		return nil, pgError("postgres: update federation relationship: %w", err)
	}
	out := copyRelationship(r)
	out.UpdatedAt = fromNanos(time.Now().UnixNano())
	err := s.writeTx(ctx, func(tx pgx.Tx) error {
		var created int64
		err := tx.QueryRow(ctx, `UPDATE federation_relationships SET bundle_endpoint_url = $1,
			bundle_endpoint_profile = $2, endpoint_spiffe_id = $3, updated_at_ns = $4 WHERE trust_domain = $5
			RETURNING created_at_ns`,
			out.BundleEndpointURL, out.BundleEndpointProfile, out.EndpointSPIFFEID, toNanos(out.UpdatedAt), out.TrustDomain).Scan(&created)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("federation relationship %q: %w", out.TrustDomain, datastore.ErrNotFound)
		case err != nil:
			return fmt.Errorf("update federation relationship %q: %w", out.TrustDomain, err)
		}
		out.CreatedAt = fromNanos(created)
		return relationshipBundle(ctx, tx, out)
	})
	if err != nil {
		return nil, pgError("postgres: update federation relationship: %w", err)
	}
	return out, nil
}

// relationshipBundle stores r's TrustDomainBundle when set, else loads the
// stored one into r, in the caller's transaction.
func relationshipBundle(ctx context.Context, tx pgx.Tx, r *datastore.FederationRelationship) error {
	if r.TrustDomainBundle != nil {
		return upsertBundle(ctx, tx, r.TrustDomainBundle)
	}
	b, err := loadBundle(ctx, tx, r.TrustDomain, "")
	if err != nil {
		return err
	}
	r.TrustDomainBundle = b
	return nil
}

// GetFederationRelationship returns one relationship with its stored bundle.
func (s *Store) GetFederationRelationship(ctx context.Context, trustDomain string) (*datastore.FederationRelationship, error) {
	rs, err := loadRelationships(ctx, s.pool, "WHERE r.trust_domain = $1", trustDomain)
	switch {
	case err != nil:
		return nil, pgError("postgres: get federation relationship %q: %w", trustDomain, err)
	case len(rs) == 0:
		return nil, pgError("postgres: federation relationship %q: %w", trustDomain, datastore.ErrNotFound)
	}
	return rs[0], nil
}

// ListFederationRelationships returns every relationship ordered by trust
// domain.
func (s *Store) ListFederationRelationships(ctx context.Context) ([]*datastore.FederationRelationship, error) {
	rs, err := loadRelationships(ctx, s.pool, "")
	if err != nil {
		return nil, pgError("postgres: list federation relationships: %w", err)
	}
	return rs, nil
}

// DeleteFederationRelationship removes a relationship; the bundle stays.
func (s *Store) DeleteFederationRelationship(ctx context.Context, trustDomain string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM federation_relationships WHERE trust_domain = $1`, trustDomain)
	switch {
	case err != nil:
		return pgError("postgres: delete federation relationship %q: %w", trustDomain, err)
	case tag.RowsAffected() == 0:
		return pgError("postgres: federation relationship %q: %w", trustDomain, datastore.ErrNotFound)
	}
	return nil
}

// loadRelationships reads the relationships selected by where (with args),
// ordered by trust domain, each with its stored bundle, in one query.
func loadRelationships(ctx context.Context, q querier, where string, args ...any) ([]*datastore.FederationRelationship, error) {
	rows, err := q.Query(ctx, `SELECT r.trust_domain, r.bundle_endpoint_url, r.bundle_endpoint_profile,
		r.endpoint_spiffe_id, r.created_at_ns, r.updated_at_ns, b.data
		FROM federation_relationships r LEFT JOIN bundles b ON b.trust_domain = r.trust_domain `+where+`
		ORDER BY r.trust_domain`, args...)
	if err != nil {
		return nil, err
	}
	var out []*datastore.FederationRelationship
	err = eachRow(rows, func(rs pgx.Rows) error {
		r := new(datastore.FederationRelationship)
		var created, updated int64
		var data []byte
		if err := rs.Scan(&r.TrustDomain, &r.BundleEndpointURL, &r.BundleEndpointProfile, &r.EndpointSPIFFEID,
			&created, &updated, &data); err != nil {
			return err
		}
		r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
		if data != nil {
			r.TrustDomainBundle = &datastore.Bundle{TrustDomain: r.TrustDomain, Data: data}
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// copyRelationship returns a copy of r that shares no memory with it.
func copyRelationship(r *datastore.FederationRelationship) *datastore.FederationRelationship {
	out := *r
	if r.TrustDomainBundle != nil {
		out.TrustDomainBundle = &datastore.Bundle{TrustDomain: r.TrustDomainBundle.TrustDomain, Data: append([]byte(nil), r.TrustDomainBundle.Data...)}
	}
	return &out
}
