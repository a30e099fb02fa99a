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

// EntryChangesSince returns the entries changed after revision since and,
// when they are at most maxEntries, the changed entries, read from the
// change log and the entries in one read transaction, hence one snapshot.
func (s *Store) EntryChangesSince(ctx context.Context, since int64, maxEntries int) (datastore.EntryChanges, error) {
	var out datastore.EntryChanges
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		out = datastore.EntryChanges{}
		out.Revision, out.IDs, out.Complete, err = entryChangeLog.since(ctx, tx, since)
		if err != nil || !out.Complete || len(out.IDs) > maxEntries {
			return err
		}
		out.EntriesRead = true
		out.Entries, err = entriesByID(ctx, tx, out.IDs)
		return err
	})
	if err != nil {
		return datastore.EntryChanges{}, fmt.Errorf("sqlite: entry changes since %d: %w", since, err)
	}
	return out, nil
}

// entriesByID returns the entries with the given sorted, distinct IDs,
// ordered by ID, read in tx by batches of childBatch IDs; IDs without an
// entry are skipped.
func entriesByID(ctx context.Context, tx *sql.Tx, ids []string) ([]*datastore.Entry, error) {
	var out []*datastore.Entry
	for chunk := range slices.Chunk(ids, childBatch) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		es, err := loadEntries(ctx, tx, "id IN ("+placeholders(len(args))+")", args)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}
