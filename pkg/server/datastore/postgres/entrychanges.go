package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpEntriesRevision logs the entries ids changed by the caller's
// transaction (entryChangeLog.bump). CreateEntry, UpdateEntry and
// DeleteEntry queue the same statements in their pipelined commit
// (entryChangeLog.queueBump) instead.
func (s *Store) bumpEntriesRevision(ctx context.Context, tx pgx.Tx, ids ...string) error {
	return entryChangeLog.bump(ctx, tx, s.changesKept, ids...)
}

// changedEntriesSQL reads the entries logged after revision $1, in the
// form entriesWithChildren scans, when the log reaches back to $1 and
// names at most $2 of them. It reads the log itself rather than taking
// the IDs from the client, so that it can be sent with sinceSQL in one
// round trip. The IDs go to the entries as an array (= ANY): with
// "IN (SELECT …)" the planner may, under a generic plan, estimate the log
// to name many rows and scan the whole entries table
// (TestWriteReadsFewRows).
const changedEntriesSQL = `WITH changed AS (
		SELECT DISTINCT c.entry_id AS id FROM entries_revision r
		JOIN entry_changes c ON c.revision > $1 AND c.revision <= r.revision
		WHERE r.id = 1 AND $1 >= r.changes_floor)
	SELECT ` + entryColumns + `,
		ARRAY(SELECT type FROM entry_selectors s WHERE s.entry_id = e.id ORDER BY type, value),
		ARRAY(SELECT value FROM entry_selectors s WHERE s.entry_id = e.id ORDER BY type, value),
		ARRAY(SELECT name FROM entry_dns_names d WHERE d.entry_id = e.id ORDER BY position),
		ARRAY(SELECT trust_domain FROM entry_federates_with f WHERE f.entry_id = e.id)
	FROM entries e
	WHERE e.id = ANY (ARRAY(SELECT id FROM changed)) AND (SELECT count(*) FROM changed) <= $2
	ORDER BY e.id`

// EntryChangesSince returns the entries changed after revision since and,
// when they are at most maxEntries, the changed entries, in one round
// trip: a server woken by another's NOTIFY reads what changed before its
// held syncs can learn of it, so every round trip here adds to
// propagation.
//
// Without entries it is one statement (entryChangeLog.since). With
// entries, one batch (one round trip) holds a read-only REPEATABLE READ
// transaction: BEGIN, the log (sinceSQL), the entries (changedEntriesSQL)
// and COMMIT. The transaction's one snapshot, taken at its first
// statement, serves both reads, so the entries are those at the revision
// read, and both reads apply the same conditions to the same rows: the
// entries are read exactly when the log read is complete and names at
// most maxEntries (the client's EntriesRead).
func (s *Store) EntryChangesSince(ctx context.Context, since int64, maxEntries int) (datastore.EntryChanges, error) {
	var ch changes
	var entries []*datastore.Entry
	var err error
	if maxEntries <= 0 {
		ch, err = entryChangeLog.since(ctx, s.pool, since)
	} else {
		ch, entries, err = s.readChangedEntries(ctx, since, maxEntries)
	}
	if err != nil {
		return datastore.EntryChanges{}, pgError("postgres: entry changes since %d: %w", since, err)
	}
	out := datastore.EntryChanges{Revision: ch.revision, IDs: ch.ids, Complete: ch.complete}
	if ch.complete && len(ch.ids) <= maxEntries {
		out.EntriesRead, out.Entries = true, entries
	}
	return out, nil
}

// readChangedEntries sends the batch EntryChangesSince describes.
func (s *Store) readChangedEntries(ctx context.Context, since int64, maxEntries int) (changes, []*datastore.Entry, error) {
	var b pgx.Batch
	b.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
	b.Queue(entryChangeLog.sinceSQL(), since)
	b.Queue(changedEntriesSQL, since, maxEntries)
	b.Queue(`COMMIT`)
	// A failed batch leaves its connection in the aborted transaction;
	// the pool closes such a connection instead of reusing it.
	res := s.pool.SendBatch(ctx, &b)
	ch, entries, err := func() (changes, []*datastore.Entry, error) {
		if _, err := res.Exec(); err != nil {
			return changes{}, nil, fmt.Errorf("begin: %w", err)
		}
		rs, err := res.Query()
		if err != nil {
			return changes{}, nil, fmt.Errorf("read entries changes: %w", err)
		}
		ch, err := entryChangeLog.scanSince(rs, since)
		if err != nil {
			return changes{}, nil, err
		}
		if rs, err = res.Query(); err != nil {
			return changes{}, nil, fmt.Errorf("read changed entries: %w", err)
		}
		entries, err := entriesWithChildren(rs)
		if err != nil {
			return changes{}, nil, fmt.Errorf("read changed entries: %w", err)
		}
		if _, err := res.Exec(); err != nil {
			return changes{}, nil, fmt.Errorf("commit: %w", err)
		}
		return ch, entries, nil
	}()
	if err = errors.Join(err, res.Close()); err != nil {
		return changes{}, nil, err
	}
	return ch, entries, nil
}

// entriesWithChildren collects rows of entryColumns followed by four
// arrays (selector types, selector values, DNS names, federated trust
// domains), one entry a row, closing rs. One statement reads an entry
// with its child rows this way, where loadEntries takes four.
func entriesWithChildren(rs pgx.Rows) ([]*datastore.Entry, error) {
	var es []*datastore.Entry
	var types, values []string
	err := eachRow(rs, func(r pgx.Rows) error {
		e := new(datastore.Entry)
		if err := scanEntry(r, e, &types, &values, &e.DNSNames, &e.FederatesWith); err != nil {
			return err
		}
		if len(types) != len(values) {
			return fmt.Errorf("entry %q: %d selector types for %d values", e.ID, len(types), len(values))
		}
		for i := range types {
			e.Selectors = append(e.Selectors, selector.Selector{Type: types[i], Value: values[i]})
		}
		// As loadEntries leaves them: nil when empty, sets sorted.
		if len(e.DNSNames) == 0 {
			e.DNSNames = nil
		}
		if len(e.FederatesWith) == 0 {
			e.FederatesWith = nil
		}
		e.Selectors = selector.NewSet(e.Selectors...)
		slices.Sort(e.FederatesWith)
		es = append(es, e)
		return nil
	})
	return es, err
}
