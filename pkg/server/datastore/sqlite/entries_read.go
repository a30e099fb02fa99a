package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// GetEntry returns the entry with the given ID.
func (s *Store) GetEntry(ctx context.Context, id string) (*datastore.Entry, error) {
	var es []*datastore.Entry
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		es, err = loadEntries(ctx, tx, "id = ?", []any{id})
		return err
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("sqlite: get entry %q: %w", id, err)
	case len(es) == 0:
		return nil, fmt.Errorf("sqlite: entry %q: %w", id, datastore.ErrNotFound)
	}
	return es[0], nil
}

// ListEntries returns the entries matching f, ordered by ID. The query
// narrows candidates with indexes; f.Matcher makes the result exact.
func (s *Store) ListEntries(ctx context.Context, f datastore.EntryFilter) ([]*datastore.Entry, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("sqlite: list entries: %w", err)
	}
	where, args := filterSQL(f)
	var es []*datastore.Entry
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		es, err = loadEntries(ctx, tx, where, args)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list entries: %w", err)
	}
	match := f.Matcher()
	out := es[:0]
	for _, e := range es {
		if match(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// CountEntries returns the number of entries.
func (s *Store) CountEntries(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count entries: %w", err)
	}
	return n, nil
}

// EntriesRevision returns the counter every entry write advances.
func (s *Store) EntriesRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.read.QueryRowContext(ctx, `SELECT revision FROM entries_revision WHERE id = 1`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("sqlite: read entries revision: %w", err)
	}
	return rev, nil
}

// childBatch bounds the IDs in one "entry_id IN (...)" list, well under
// the bind-parameter limits of SQLite (32766) and PostgreSQL (65535).
const childBatch = 500

// loadEntries returns the entries satisfying the SQL condition where (empty
// for all), ordered by ID, with their selectors, DNS names and federated
// trust domains. Child rows are read in bulk: whole tables when where is
// empty, otherwise by batches of the IDs found, so the cost is a few
// queries however many entries match. q should be a transaction, for a
// consistent snapshot.
func loadEntries(ctx context.Context, q querier, where string, args []any) ([]*datastore.Entry, error) {
	cond := ""
	if where != "" {
		cond = " WHERE " + where
	}
	rs, err := q.QueryContext(ctx, `SELECT id, spiffe_id, parent_id, x509_svid_ttl, jwt_svid_ttl, hint,
		admin, downstream, expires_at, revision_number, created_at, owner FROM entries`+cond+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("query entries: %w", err)
	}
	var es []*datastore.Entry
	byID := make(map[string]*datastore.Entry)
	err = eachRow(rs, func(r *sql.Rows) error {
		e := new(datastore.Entry)
		if err := r.Scan(&e.ID, &e.SPIFFEID, &e.ParentID, &e.X509SVIDTTL, &e.JWTSVIDTTL, &e.Hint,
			&e.Admin, &e.Downstream, &e.ExpiresAt, &e.RevisionNumber, &e.CreatedAt, &e.Owner); err != nil {
			return err
		}
		es = append(es, e)
		byID[e.ID] = e
		return nil
	})
	if err != nil || len(es) == 0 {
		return es, wrapErr("read entries", err)
	}
	if where == "" {
		err = loadEntryChildren(ctx, q, "", nil, byID)
	} else {
		for chunk := range slices.Chunk(es, childBatch) {
			ids := make([]any, len(chunk))
			for i, e := range chunk {
				ids[i] = e.ID
			}
			cond := " WHERE entry_id IN (" + placeholders(len(ids)) + ")"
			if err = loadEntryChildren(ctx, q, cond, ids, byID); err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		// Sorting here, not in SQL, keeps the order independent of the
		// database's collation.
		e.Selectors = selector.NewSet(e.Selectors...)
		slices.Sort(e.FederatesWith)
	}
	return es, nil
}

// loadEntryChildren reads the selectors, DNS names and federated trust
// domains selected by cond (a WHERE clause over entry_id, or empty) into
// the entries of byID.
func loadEntryChildren(ctx context.Context, q querier, cond string, args []any, byID map[string]*datastore.Entry) error {
	if err := loadChildren(ctx, q, `SELECT entry_id, type, value FROM entry_selectors`+cond, args,
		func(r *sql.Rows) error {
			var id string
			var sel selector.Selector
			if err := r.Scan(&id, &sel.Type, &sel.Value); err != nil {
				return err
			}
			if e := byID[id]; e != nil {
				e.Selectors = append(e.Selectors, sel)
			}
			return nil
		}); err != nil {
		return fmt.Errorf("read entry selectors: %w", err)
	}
	if err := loadChildren(ctx, q, `SELECT entry_id, name FROM entry_dns_names`+cond+` ORDER BY entry_id, position`, args,
		func(r *sql.Rows) error {
			var id, name string
			if err := r.Scan(&id, &name); err != nil {
				return err
			}
			if e := byID[id]; e != nil {
				e.DNSNames = append(e.DNSNames, name)
			}
			return nil
		}); err != nil {
		return fmt.Errorf("read entry dns names: %w", err)
	}
	if err := loadChildren(ctx, q, `SELECT entry_id, trust_domain FROM entry_federates_with`+cond, args,
		func(r *sql.Rows) error {
			var id, td string
			if err := r.Scan(&id, &td); err != nil {
				return err
			}
			if e := byID[id]; e != nil {
				e.FederatesWith = append(e.FederatesWith, td)
			}
			return nil
		}); err != nil {
		return fmt.Errorf("read entry federates_with: %w", err)
	}
	return nil
}

// loadChildren runs a child-table query and feeds each row to scan.
func loadChildren(ctx context.Context, q querier, query string, args []any, scan func(*sql.Rows) error) error {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	return eachRow(rs, scan)
}

// eachRow calls fn for every row and closes rs, returning the first error.
func eachRow(rs *sql.Rows, fn func(*sql.Rows) error) error {
	for rs.Next() {
		if err := fn(rs); err != nil {
			return errors.Join(err, rs.Close())
		}
	}
	return errors.Join(rs.Err(), rs.Close())
}

// wrapErr adds context to a non-nil error.
func wrapErr(context string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", context, err)
}
