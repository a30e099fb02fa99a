package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// DeleteBundle removes a trust domain's bundle and, as mode says, refuses
// or changes the entries that federate with it, in one transaction. The
// deleted row stays locked until commit, so an entry being created or
// updated to federate with the trust domain (which holds the row FOR
// SHARE) either commits first and is found here, or fails afterwards with
// ErrNoFederatedBundle.
func (s *Store) DeleteBundle(ctx context.Context, trustDomain string, mode datastore.BundleDeleteMode) error {
	err := s.writeTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM bundles WHERE trust_domain = $1`, trustDomain)
		switch {
		case err != nil:
			return fmt.Errorf("delete bundle %q: %w", trustDomain, err)
		case tag.RowsAffected() == 0:
			return fmt.Errorf("bundle %q: %w", trustDomain, datastore.ErrNotFound)
		}
		if err := bumpBundlesRevision(ctx, tx); err != nil {
			return fmt.Errorf("delete bundle %q: %w", trustDomain, err)
		}
		var ids []string
		var id string
		rs, err := tx.Query(ctx, `SELECT entry_id FROM entry_federates_with WHERE trust_domain = $1 ORDER BY entry_id FOR UPDATE`, trustDomain)
		if err != nil {
			return fmt.Errorf("find entries federating with %q: %w", trustDomain, err)
		}
		if err := eachRow(rs, func(r pgx.Rows) error {
			if err := r.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		}); err != nil {
			return fmt.Errorf("find entries federating with %q: %w", trustDomain, err)
		}
		if len(ids) == 0 {
			return nil
		}
		switch mode {
		case datastore.DeleteDissociate:
			return s.dissociateEntries(ctx, tx, trustDomain, ids)
		case datastore.DeleteEntries:
			if _, err := tx.Exec(ctx, `DELETE FROM entries WHERE id = ANY($1)`, ids); err != nil {
				return fmt.Errorf("delete entries federating with %q: %w", trustDomain, err)
			}
			return s.bumpEntriesRevision(ctx, tx, ids...)
		case datastore.DeleteRestrict:
			return fmt.Errorf("cannot delete bundle %q; federated with %d registration entries: %w", trustDomain, len(ids), datastore.ErrInUse)
		}
		return fmt.Errorf("delete bundle %q: unknown delete mode %d", trustDomain, mode)
	})
	if err != nil {
		return pgError("postgres: %w", err)
	}
	return nil
}

// dissociateEntries removes trustDomain from the federated trust domains
// of the entries ids and advances those entries' revisions, so that agents
// see the change.
func (s *Store) dissociateEntries(ctx context.Context, tx pgx.Tx, trustDomain string, ids []string) error {
	if _, err := tx.Exec(ctx, `UPDATE entries SET revision_number = revision_number + 1 WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("dissociate entries from %q: %w", trustDomain, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM entry_federates_with WHERE trust_domain = $1`, trustDomain); err != nil {
		return fmt.Errorf("dissociate entries from %q: %w", trustDomain, err)
	}
	return s.bumpEntriesRevision(ctx, tx, ids...)
}
