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
		finishEntry(e)
	}
	return es, nil
}

// entryChildQuery is the read of one of an entry's child tables.
type entryChildQuery struct {
	// what names the rows, for errors.
	what string
	// sql selects entry_id first; a WHERE over entry_id and then order
	// are appended.
	sql, order string
	// add scans a row into its entry in byID.
	add func(r pgx.Rows, byID map[string]*datastore.Entry) error
}

// entryChildQueries read the selectors, DNS names (in order) and
// federated trust domains.
var entryChildQueries = []entryChildQuery{
	{what: "selectors", sql: `SELECT entry_id, type, value FROM entry_selectors`, add: func(r pgx.Rows, byID map[string]*datastore.Entry) error {
		var id, typ, value string
		if err := r.Scan(&id, &typ, &value); err != nil {
			return err
		}
		if e := byID[id]; e != nil {
			e.Selectors = append(e.Selectors, selector.Selector{Type: typ, Value: value})
		}
		return nil
	}},
	{what: "dns names", sql: `SELECT entry_id, name FROM entry_dns_names`, order: ` ORDER BY entry_id, position`, add: func(r pgx.Rows, byID map[string]*datastore.Entry) error {
		var id, name string
		if err := r.Scan(&id, &name); err != nil {
			return err
		}
		if e := byID[id]; e != nil {
			e.DNSNames = append(e.DNSNames, name)
		}
		return nil
	}},
	{what: "federates_with", sql: `SELECT entry_id, trust_domain FROM entry_federates_with`, add: func(r pgx.Rows, byID map[string]*datastore.Entry) error {
		var id, td string
		if err := r.Scan(&id, &td); err != nil {
			return err
		}
		if e := byID[id]; e != nil {
			e.FederatesWith = append(e.FederatesWith, td)
		}
		return nil
	}},
}

// loadEntryChildren reads the selectors, DNS names and federated trust
// domains selected by cond (a WHERE clause over entry_id, or empty) into
// the entries of byID.
func loadEntryChildren(ctx context.Context, q querier, cond string, args []any, byID map[string]*datastore.Entry) error {
	for _, c := range entryChildQueries {
		rs, err := q.Query(ctx, c.sql+cond+c.order, args...)
		if err == nil {
			err = eachRow(rs, func(r pgx.Rows) error { return c.add(r, byID) })
		}
		if err != nil {
			return fmt.Errorf("read entry %s: %w", c.what, err)
		}
	}
	return nil
}

// queueReadEntryForUpdate queues, for a transaction sent as batches, the
// read of the entry id, locked FOR UPDATE, and of its child rows: the
// callbacks set *out to it, or leave *out nil when there is none. The
// caller passes it to finishEntry once the batch has been read.
func queueReadEntryForUpdate(b *pgx.Batch, id string, out **datastore.Entry) {
	byID := make(map[string]*datastore.Entry, 1)
	b.Queue(`SELECT `+entryColumns+` FROM entries WHERE id = $1 FOR UPDATE`, id).Query(func(rs pgx.Rows) error {
		return wrapErr("read entry", eachRow(rs, func(r pgx.Rows) error {
			e := new(datastore.Entry)
			if err := scanEntry(r, e); err != nil {
				return err
			}
			byID[e.ID], *out = e, e
			return nil
		}))
	})
	for _, c := range entryChildQueries {
		b.Queue(c.sql+` WHERE entry_id = $1`+c.order, id).Query(func(rs pgx.Rows) error {
			if err := eachRow(rs, func(r pgx.Rows) error { return c.add(r, byID) }); err != nil {
				return fmt.Errorf("read entry %s: %w", c.what, err)
			}
			return nil
		})
	}
}

// finishEntry puts an entry read with its child rows in stored form.
// Sorting here, not in SQL, keeps the order independent of the database's
// collation.
func finishEntry(e *datastore.Entry) {
	e.Selectors = selector.NewSet(e.Selectors...)
	slices.Sort(e.FederatesWith)
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
