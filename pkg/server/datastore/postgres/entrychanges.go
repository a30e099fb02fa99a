package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpEntriesRevision logs the entries ids changed by the caller's
// transaction (entryChangeLog.bump); it is the single place every entry
// write passes through.
func (s *Store) bumpEntriesRevision(ctx context.Context, tx pgx.Tx, ids ...string) error {
	return entryChangeLog.bump(ctx, tx, s.changesKept, ids...)
}

// EntryChangesSince returns the entries changed after revision since, read
// with the revision in one statement, hence one snapshot and one round
// trip: a server woken by a NOTIFY reads what changed before its held
// syncs can learn of it, so every round trip here adds to propagation.
func (s *Store) EntryChangesSince(ctx context.Context, since int64) (datastore.EntryChanges, error) {
	// One row per changed entry, or one row with a NULL entry_id when none
	// changed or the log no longer reaches back to since.
	rs, err := s.pool.Query(ctx, `SELECT r.revision, r.changes_floor, c.entry_id
		FROM entries_revision r
		LEFT JOIN entry_changes c ON c.revision > $1 AND c.revision <= r.revision AND $1 >= r.changes_floor
		WHERE r.id = 1`, since)
	if err != nil {
		return datastore.EntryChanges{}, pgError("postgres: entry changes since %d: %w", since, err)
	}
	var out datastore.EntryChanges
	var floor int64
	var id *string
	err = eachRow(rs, func(r pgx.Rows) error {
		if err := r.Scan(&out.Revision, &floor, &id); err != nil {
			return err
		}
		if id != nil {
			out.IDs = append(out.IDs, *id)
		}
		return nil
	})
	if err != nil {
		return datastore.EntryChanges{}, pgError("postgres: entry changes since %d: %w", since, err)
	}
	if since < floor || since > out.Revision {
		return datastore.EntryChanges{Revision: out.Revision}, nil
	}
	out.Complete = true
	// Sorting here, not in SQL, keeps the order independent of the
	// database's collation; an entry changed at several revisions is
	// listed once.
	slices.Sort(out.IDs)
	out.IDs = slices.Compact(out.IDs)
	return out, nil
}

// GetEntries returns the entries with the given IDs, ordered by ID as
// ListEntries. One statement reads them with their selectors, DNS names
// and federated trust domains (as arrays), so it is one snapshot and one
// round trip; loadEntries' four queries in a transaction took six, each
// on the path from another server's write to the held syncs it wakes.
func (s *Store) GetEntries(ctx context.Context, ids []string) ([]*datastore.Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rs, err := s.pool.Query(ctx, `SELECT `+entryColumns+`,
		ARRAY(SELECT type FROM entry_selectors s WHERE s.entry_id = e.id ORDER BY type, value),
		ARRAY(SELECT value FROM entry_selectors s WHERE s.entry_id = e.id ORDER BY type, value),
		ARRAY(SELECT name FROM entry_dns_names d WHERE d.entry_id = e.id ORDER BY position),
		ARRAY(SELECT trust_domain FROM entry_federates_with f WHERE f.entry_id = e.id)
		FROM entries e WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, pgError("postgres: get %d entries: %w", len(ids), err)
	}
	var es []*datastore.Entry
	var types, values []string
	err = eachRow(rs, func(r pgx.Rows) error {
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
	if err != nil {
		return nil, pgError("postgres: get %d entries: %w", len(ids), err)
	}
	return es, nil
}
