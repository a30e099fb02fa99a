package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpEntriesRevision logs the entries ids changed by the caller's
// transaction (entryChangeLog.bump); it is the single place every entry
// write passes through.
func (s *Store) bumpEntriesRevision(ctx context.Context, tx *sql.Tx, ids ...string) error {
	return entryChangeLog.bump(ctx, tx, s.changesKept, ids...)
}

// EntryChangesSince returns the entries changed after revision since, read
// from the change log in one snapshot with the revision.
func (s *Store) EntryChangesSince(ctx context.Context, since int64) (datastore.EntryChanges, error) {
	var out datastore.EntryChanges
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		out = datastore.EntryChanges{}
		out.Revision, out.IDs, out.Complete, err = entryChangeLog.since(ctx, tx, since)
		return err
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
