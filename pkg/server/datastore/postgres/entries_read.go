package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// GetEntry returns the entry with the given ID.
func (s *Store) GetEntry(ctx context.Context, id string) (*datastore.Entry, error) {
	var es []*datastore.Entry
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var err error
		es, err = loadEntries(ctx, tx, "id = $1", []any{id})
		return err
	})
	switch {
	case err != nil:
		return nil, pgError("postgres: get entry %q: %w", id, err)
	case len(es) == 0:
		return nil, pgError("postgres: entry %q: %w", id, datastore.ErrNotFound)
	}
	return es[0], nil
}

// ListEntries returns the entries matching f, ordered by ID. The query is
// exact; f.Matcher, the reference semantics, is applied as a safety net.
func (s *Store) ListEntries(ctx context.Context, f datastore.EntryFilter) ([]*datastore.Entry, error) {
	if err := f.Validate(); err != nil {
		return nil, pgError("postgres: list entries: %w", err)
	}
	where, args := filterSQL(f)
	var es []*datastore.Entry
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var err error
		es, err = loadEntries(ctx, tx, where, args)
		return err
	})
	if err != nil {
		return nil, pgError("postgres: list entries: %w", err)
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
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM entries`).Scan(&n); err != nil {
		return 0, pgError("postgres: count entries: %w", err)
	}
	return n, nil
}

// entryColumns are the entries columns scanEntry reads, in its order.
const entryColumns = `id, spiffe_id, parent_id, x509_svid_ttl, jwt_svid_ttl, hint,
	admin, downstream, expires_at, revision_number, created_at, owner`

// scanEntry scans a row of entryColumns, then extra, into e.
func scanEntry(r pgx.Rows, e *datastore.Entry, extra ...any) error {
	return r.Scan(append([]any{&e.ID, &e.SPIFFEID, &e.ParentID, &e.X509SVIDTTL, &e.JWTSVIDTTL, &e.Hint,
		&e.Admin, &e.Downstream, &e.ExpiresAt, &e.RevisionNumber, &e.CreatedAt, &e.Owner}, extra...)...)
}

// loadEntries returns the entries satisfying the SQL condition where
// (empty for all), ordered by ID, with their selectors, DNS names and
// federated trust domains, read in three more queries whatever the number
// of entries. q should be a transaction, for a consistent snapshot.
func loadEntries(ctx context.Context, q querier, where string, args []any) ([]*datastore.Entry, error) {
	cond := ""
	if where != "" {
		cond = " WHERE " + where
	}
	rs, err := q.Query(ctx, `SELECT `+entryColumns+` FROM entries`+cond+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("query entries: %w", err)
	}
	var es []*datastore.Entry
	byID := make(map[string]*datastore.Entry)
	err = eachRow(rs, func(r pgx.Rows) error {
		e := new(datastore.Entry)
		if err := scanEntry(r, e); err != nil {
			return err
		}
		es = append(es, e)
		byID[e.ID] = e
		return nil
	})
	if err != nil || len(es) == 0 {
		return es, wrapErr("read entries", err)
	}
	var childCond string
	var childArgs []any
	if where != "" {
		ids := make([]string, len(es))
		for i, e := range es {
			ids[i] = e.ID
		}
		childCond, childArgs = " WHERE entry_id = ANY($1)", []any{ids}
	}
	if err := loadEntryChildren(ctx, q, childCond, childArgs, byID); err != nil {
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
	var id, a, b string
	if err := loadChildren(ctx, q, `SELECT entry_id, type, value FROM entry_selectors`+cond, args, []any{&id, &a, &b}, func() {
		if e := byID[id]; e != nil {
			e.Selectors = append(e.Selectors, selector.Selector{Type: a, Value: b})
		}
	}); err != nil {
		return fmt.Errorf("read entry selectors: %w", err)
	}
	if err := loadChildren(ctx, q, `SELECT entry_id, name FROM entry_dns_names`+cond+` ORDER BY entry_id, position`, args, []any{&id, &a}, func() {
		if e := byID[id]; e != nil {
			e.DNSNames = append(e.DNSNames, a)
		}
	}); err != nil {
		return fmt.Errorf("read entry dns names: %w", err)
	}
	if err := loadChildren(ctx, q, `SELECT entry_id, trust_domain FROM entry_federates_with`+cond, args, []any{&id, &a}, func() {
		if e := byID[id]; e != nil {
			e.FederatesWith = append(e.FederatesWith, a)
		}
	}); err != nil {
		return fmt.Errorf("read entry federates_with: %w", err)
	}
	return nil
}

// loadChildren runs a child-table query, scanning each row into dest and
// then calling use.
func loadChildren(ctx context.Context, q querier, query string, args, dest []any, use func()) error {
	rs, err := q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	return eachRow(rs, func(r pgx.Rows) error {
		if err := r.Scan(dest...); err != nil {
			return err
		}
		use()
		return nil
	})
}

// eachRow calls fn for every row and closes rs, returning the first error.
func eachRow(rs pgx.Rows, fn func(pgx.Rows) error) error {
	defer rs.Close()
	for rs.Next() {
		if err := fn(rs); err != nil {
			return err
		}
	}
	return rs.Err()
}
