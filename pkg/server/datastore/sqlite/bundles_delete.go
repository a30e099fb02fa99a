package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// DeleteBundle removes a trust domain's bundle and, as mode says, refuses
// or changes the entries that federate with it, in one transaction.
func (s *Store) DeleteBundle(ctx context.Context, trustDomain string, mode datastore.BundleDeleteMode) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM bundles WHERE trust_domain = ?`, trustDomain)
		if err != nil {
			return fmt.Errorf("delete bundle %q: %w", trustDomain, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete bundle %q: %w", trustDomain, err)
		} else if n == 0 {
			return fmt.Errorf("bundle %q: %w", trustDomain, datastore.ErrNotFound)
		}
		if err := bumpBundlesRevisionIf(ctx, tx, res); err != nil {
			return fmt.Errorf("delete bundle %q: %w", trustDomain, err)
		}
		var ids []string
		rows, err := tx.QueryContext(ctx, `SELECT entry_id FROM entry_federates_with WHERE trust_domain = ? ORDER BY entry_id`, trustDomain)
		if err != nil {
			return fmt.Errorf("find entries federating with %q: %w", trustDomain, err)
		}
		if err := eachRow(rows, func(r *sql.Rows) error {
			var id string
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
			return s.deleteEntries(ctx, tx, ids)
		case datastore.DeleteRestrict:
			return fmt.Errorf("cannot delete bundle %q; federated with %d registration entries: %w", trustDomain, len(ids), datastore.ErrInUse)
		}
		return fmt.Errorf("delete bundle %q: unknown delete mode %d", trustDomain, mode)
	})
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// dissociateEntries removes trustDomain from the federated trust domains
// of the entries ids (every entry federating with it) and advances those
// entries' revisions, so that agents see the change.
func (s *Store) dissociateEntries(ctx context.Context, tx *sql.Tx, trustDomain string, ids []string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE entries SET revision_number = revision_number + 1
		WHERE id IN (SELECT entry_id FROM entry_federates_with WHERE trust_domain = ?)`, trustDomain); err != nil {
		return fmt.Errorf("dissociate entries from %q: %w", trustDomain, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM entry_federates_with WHERE trust_domain = ?`, trustDomain); err != nil {
		return fmt.Errorf("dissociate entries from %q: %w", trustDomain, err)
	}
	return s.bumpEntriesRevision(ctx, tx, ids...)
}

// deleteEntries deletes the entries with the given IDs and their children.
func (s *Store) deleteEntries(ctx context.Context, tx *sql.Tx, ids []string) error {
	for _, id := range ids {
		if err := deleteEntryChildren(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete entry %q: %w", id, err)
		}
	}
	return s.bumpEntriesRevision(ctx, tx, ids...)
}
