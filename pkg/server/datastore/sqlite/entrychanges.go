package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpEntriesRevision advances the entries change counter in the caller's
// transaction and records the entries ids it changed in the change log at
// the new revision, so the counter, the log and the entry change commit
// together; it is the single place every entry write passes through. The
// log keeps the latest s.changesKept revisions: changes_floor follows the
// revision and the rows at or below it are deleted. Revisions commit in
// order: SQLite has one writer at a time, across processes too.
func (s *Store) bumpEntriesRevision(ctx context.Context, tx *sql.Tx, ids ...string) error {
	var rev, floor int64
	if err := tx.QueryRowContext(ctx, `UPDATE entries_revision
		SET revision = revision + 1, changes_floor = MAX(changes_floor, revision + 1 - ?)
		WHERE id = 1 RETURNING revision, changes_floor`, s.changesKept).Scan(&rev, &floor); err != nil {
		return fmt.Errorf("bump entries revision: %w", err)
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	changes := make([][]any, len(ids))
	for i, id := range ids {
		changes[i] = []any{rev, id}
	}
	if err := insertRows(ctx, tx, `INSERT INTO entry_changes (revision, entry_id) VALUES `, changes); err != nil {
		return fmt.Errorf("record entry changes: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM entry_changes WHERE revision <= ?`, floor); err != nil {
		return fmt.Errorf("prune entry changes: %w", err)
	}
	return nil
}

// EntryChangesSince returns the entries changed after revision since, read
// from the change log in one snapshot with the revision.
func (s *Store) EntryChangesSince(ctx context.Context, since int64) (datastore.EntryChanges, error) {
	var out datastore.EntryChanges
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var floor int64
		if err := tx.QueryRowContext(ctx, `SELECT revision, changes_floor FROM entries_revision WHERE id = 1`).
			Scan(&out.Revision, &floor); err != nil {
			return fmt.Errorf("read entries revision: %w", err)
		}
		if since < floor || since > out.Revision {
			return nil
		}
		out.Complete = true
		rs, err := tx.QueryContext(ctx, `SELECT DISTINCT entry_id FROM entry_changes
			WHERE revision > ? AND revision <= ? ORDER BY entry_id`, since, out.Revision)
		if err != nil {
			return fmt.Errorf("read entry changes: %w", err)
		}
		return wrapErr("read entry changes", eachRow(rs, func(r *sql.Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			out.IDs = append(out.IDs, id)
			return nil
		}))
	})
	if err != nil {
		return datastore.EntryChanges{}, fmt.Errorf("sqlite: entry changes since %d: %w", since, err)
	}
	return out, nil
}

// GetEntries returns the entries with the given IDs, ordered by ID, read
// in one snapshot by batches of childBatch IDs.
func (s *Store) GetEntries(ctx context.Context, ids []string) ([]*datastore.Entry, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var out []*datastore.Entry
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		for chunk := range slices.Chunk(ids, childBatch) {
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			es, err := loadEntries(ctx, tx, "id IN ("+placeholders(len(args))+")", args)
			if err != nil {
				return err
			}
			out = append(out, es...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get %d entries: %w", len(ids), err)
	}
	return out, nil
}
