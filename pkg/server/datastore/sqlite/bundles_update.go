package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// UpdateBundle reads, changes with fn and stores a trust domain's bundle
// in one write transaction; SQLite's write lock (BEGIN IMMEDIATE on the
// single write connection, the file lock across processes) excludes every
// other writer meanwhile, so fn runs once.
func (s *Store) UpdateBundle(ctx context.Context, trustDomain string, fn func(*datastore.Bundle) (*datastore.Bundle, error)) (*datastore.Bundle, error) {
	var out *datastore.Bundle
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		cur, err := loadBundle(ctx, tx, trustDomain)
		if err != nil {
			return err
		}
		if out, err = datastore.ApplyBundleUpdate(trustDomain, cur, fn); err != nil {
			return err
		}
		return upsertBundle(ctx, tx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: update bundle %q: %w", trustDomain, err)
	}
	return out, nil
}
