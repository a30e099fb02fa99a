package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpEntriesRevision advances the entries change counter in the caller's
// transaction, records the entries ids it changed in the change log at the
// new revision, prunes the log to the latest s.changesKept revisions and
// notifies changesChannel (PostgreSQL delivers the notification to every
// listening server only on commit), so the counter, the log and the entry
// change commit together. It is the single place every entry write passes
// through; the four statements go in one round trip.
//
// Revisions commit in order, which EntryChangesSince relies on: the UPDATE
// takes the entries_revision row lock, held until the transaction ends, so
// a concurrent writer's UPDATE waits for the commit and (READ COMMITTED)
// then increments the committed value. PostgreSQL marks a transaction
// committed before it releases its locks, so any snapshot that sees
// revision R sees every revision below R and its change-log rows too.
func (s *Store) bumpEntriesRevision(ctx context.Context, tx pgx.Tx, ids ...string) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var b pgx.Batch
	b.Queue(`UPDATE entries_revision
		SET revision = revision + 1, changes_floor = GREATEST(changes_floor, revision + 1 - $1)
		WHERE id = 1`, s.changesKept)
	b.Queue(`INSERT INTO entry_changes (revision, entry_id)
		SELECT r.revision, u.id FROM entries_revision r, unnest($1::text[]) AS u (id) WHERE r.id = 1`, ids)
	b.Queue(`DELETE FROM entry_changes WHERE revision <= (SELECT changes_floor FROM entries_revision WHERE id = 1)`)
	b.Queue(`NOTIFY ` + changesChannel)
	res := tx.SendBatch(ctx, &b)
	var err error
	for range b.Len() {
		if _, err = res.Exec(); err != nil {
			break
		}
	}
	if err = errors.Join(err, res.Close()); err != nil {
		return fmt.Errorf("bump entries revision: %w", err)
	}
	return nil
}

// EntryChangesSince returns the entries changed after revision since, read
// from the change log in one snapshot with the revision.
func (s *Store) EntryChangesSince(ctx context.Context, since int64) (datastore.EntryChanges, error) {
	var out datastore.EntryChanges
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		out = datastore.EntryChanges{}
		var floor int64
		if err := tx.QueryRow(ctx, `SELECT revision, changes_floor FROM entries_revision WHERE id = 1`).
			Scan(&out.Revision, &floor); err != nil {
			return fmt.Errorf("read entries revision: %w", err)
		}
		if since < floor || since > out.Revision {
			return nil
		}
		out.Complete = true
		rs, err := tx.Query(ctx, `SELECT DISTINCT entry_id FROM entry_changes
			WHERE revision > $1 AND revision <= $2`, since, out.Revision)
		if err != nil {
			return fmt.Errorf("read entry changes: %w", err)
		}
		var id string
		return wrapErr("read entry changes", eachRow(rs, func(r pgx.Rows) error {
			if err := r.Scan(&id); err != nil {
				return err
			}
			out.IDs = append(out.IDs, id)
			return nil
		}))
	})
	if err != nil {
		return datastore.EntryChanges{}, fmt.Errorf("postgres: entry changes since %d: %w", since, err)
	}
	// Sorting here, not in SQL, keeps the order independent of the
	// database's collation.
	slices.Sort(out.IDs)
	return out, nil
}

// GetEntries returns the entries with the given IDs, ordered by ID as
// ListEntries, in one snapshot.
func (s *Store) GetEntries(ctx context.Context, ids []string) ([]*datastore.Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var es []*datastore.Entry
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var err error
		es, err = loadEntries(ctx, tx, "id = ANY($1)", []any{ids})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: get %d entries: %w", len(ids), err)
	}
	return es, nil
}
