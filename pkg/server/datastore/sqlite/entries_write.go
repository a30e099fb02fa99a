package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// CreateEntry stores e, assigning an ID when empty, CreatedAt and revision 0.
func (s *Store) CreateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("sqlite: create entry: %w", err)
	}
	out := normalizeEntry(e)
	if out.ID == "" {
		out.ID = uuid.NewString()
	}
	out.CreatedAt = time.Now().Unix()
	out.RevisionNumber = 0
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM entries WHERE id = ?`, out.ID).Scan(&one); {
		case err == nil:
			return fmt.Errorf("entry %q: %w", out.ID, datastore.ErrAlreadyExists)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up entry %q: %w", out.ID, err)
		}
		if err := checkUnique(ctx, tx, out); err != nil {
			return err
		}
		if err := checkFederatedBundles(ctx, tx, out.FederatesWith); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO entries (id, spiffe_id, parent_id, selectors_hash,
			x509_svid_ttl, jwt_svid_ttl, hint, admin, downstream, expires_at, revision_number, created_at, owner)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			out.ID, out.SPIFFEID, out.ParentID, out.Selectors.Digest(),
			out.X509SVIDTTL, out.JWTSVIDTTL, out.Hint, boolInt(out.Admin), boolInt(out.Downstream),
			out.ExpiresAt, out.RevisionNumber, out.CreatedAt, out.Owner); err != nil {
			return fmt.Errorf("insert entry %q: %w", out.ID, err)
		}
		if err := writeEntryChildren(ctx, tx, out); err != nil {
			return err
		}
		return s.bumpEntriesRevision(ctx, tx, out.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: create entry: %w", err)
	}
	return out, nil
}

// UpdateEntry replaces every field of the entry with e.ID except CreatedAt
// and Owner, and increments its revision number.
func (s *Store) UpdateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("sqlite: update entry: %w", err)
	}
	out := normalizeEntry(e)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT revision_number, created_at, owner FROM entries WHERE id = ?`, out.ID).
			Scan(&out.RevisionNumber, &out.CreatedAt, &out.Owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("entry %q: %w", out.ID, datastore.ErrNotFound)
		case err != nil:
			return fmt.Errorf("look up entry %q: %w", out.ID, err)
		}
		out.RevisionNumber++
		if err := checkUnique(ctx, tx, out); err != nil {
			return err
		}
		if err := checkFederatedBundles(ctx, tx, out.FederatesWith); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE entries SET spiffe_id = ?, parent_id = ?, selectors_hash = ?,
			x509_svid_ttl = ?, jwt_svid_ttl = ?, hint = ?, admin = ?, downstream = ?, expires_at = ?,
			revision_number = ? WHERE id = ?`,
			out.SPIFFEID, out.ParentID, out.Selectors.Digest(),
			out.X509SVIDTTL, out.JWTSVIDTTL, out.Hint, boolInt(out.Admin), boolInt(out.Downstream),
			out.ExpiresAt, out.RevisionNumber, out.ID); err != nil {
			return fmt.Errorf("update entry %q: %w", out.ID, err)
		}
		if err := deleteEntryChildren(ctx, tx, out.ID); err != nil {
			return err
		}
		if err := writeEntryChildren(ctx, tx, out); err != nil {
			return err
		}
		return s.bumpEntriesRevision(ctx, tx, out.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: update entry: %w", err)
	}
	return out, nil
}

// DeleteEntry removes the entry and returns it as it was.
func (s *Store) DeleteEntry(ctx context.Context, id string) (*datastore.Entry, error) {
	var out *datastore.Entry
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		es, err := loadEntries(ctx, tx, "id = ?", []any{id})
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return fmt.Errorf("entry %q: %w", id, datastore.ErrNotFound)
		}
		out = es[0]
		if err := deleteEntryChildren(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete entry %q: %w", id, err)
		}
		return s.bumpEntriesRevision(ctx, tx, id)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete entry: %w", err)
	}
	return out, nil
}

// normalizeEntry returns a copy of e in stored form: selectors sorted and
// de-duplicated, federated trust domains sorted and de-duplicated, slices
// not shared with the caller.
func normalizeEntry(e *datastore.Entry) *datastore.Entry {
	out := *e
	out.Selectors = selector.NewSet(e.Selectors...)
	out.DNSNames = slices.Clone(e.DNSNames)
	out.FederatesWith = slices.Compact(slices.Sorted(slices.Values(e.FederatesWith)))
	return &out
}

// checkUnique fails with ErrAlreadyExists when another entry has e's SPIFFE
// ID, parent ID and selector set. The unique index enforces the same rule;
// checking first gives callers the sentinel instead of a driver error.
func checkUnique(ctx context.Context, tx *sql.Tx, e *datastore.Entry) error {
	var other string
	err := tx.QueryRowContext(ctx, `SELECT id FROM entries
		WHERE spiffe_id = ? AND parent_id = ? AND selectors_hash = ? AND id <> ?`,
		e.SPIFFEID, e.ParentID, e.Selectors.Digest(), e.ID).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check entry uniqueness: %w", err)
	}
	return fmt.Errorf("entry %q has the same spiffe_id, parent_id and selectors: %w", other, datastore.ErrAlreadyExists)
}

// checkFederatedBundles fails with ErrNoFederatedBundle, naming the first
// missing trust domain, unless every trust domain in tds (sorted) has a
// stored bundle. Checking in the write transaction means a bundle deleted
// concurrently cannot leave an entry federating with nothing.
func checkFederatedBundles(ctx context.Context, tx *sql.Tx, tds []string) error {
	if len(tds) == 0 {
		return nil
	}
	args := make([]any, len(tds))
	for i, td := range tds {
		args[i] = td
	}
	rs, err := tx.QueryContext(ctx, `SELECT trust_domain FROM bundles WHERE trust_domain IN (`+placeholders(len(tds))+`)`, args...)
	if err != nil {
		return fmt.Errorf("look up federated bundles: %w", err)
	}
	have := make(map[string]bool, len(tds))
	if err := eachRow(rs, func(r *sql.Rows) error {
		var td string
		if err := r.Scan(&td); err != nil {
			return err
		}
		have[td] = true
		return nil
	}); err != nil {
		return fmt.Errorf("look up federated bundles: %w", err)
	}
	return datastore.CheckFederatedBundles(tds, have)
}

// writeEntryChildren inserts e's selectors, DNS names and federated trust
// domains (multi-row INSERTs).
func writeEntryChildren(ctx context.Context, tx *sql.Tx, e *datastore.Entry) error {
	sels := make([][]any, len(e.Selectors))
	for i, sel := range e.Selectors {
		sels[i] = []any{e.ID, sel.Type, sel.Value}
	}
	if err := insertRows(ctx, tx, `INSERT INTO entry_selectors (entry_id, type, value) VALUES `, sels); err != nil {
		return fmt.Errorf("insert selectors of entry %q: %w", e.ID, err)
	}
	names := make([][]any, len(e.DNSNames))
	for i, name := range e.DNSNames {
		names[i] = []any{e.ID, i, name}
	}
	if err := insertRows(ctx, tx, `INSERT INTO entry_dns_names (entry_id, position, name) VALUES `, names); err != nil {
		return fmt.Errorf("insert dns names of entry %q: %w", e.ID, err)
	}
	tds := make([][]any, len(e.FederatesWith))
	for i, td := range e.FederatesWith {
		tds[i] = []any{e.ID, td}
	}
	if err := insertRows(ctx, tx, `INSERT INTO entry_federates_with (entry_id, trust_domain) VALUES `, tds); err != nil {
		return fmt.Errorf("insert federates_with of entry %q: %w", e.ID, err)
	}
	return nil
}

// maxInsertVariables bounds the bound variables of one INSERT, far below
// SQLite's limit of 32,766, whatever the entry limits allow.
const maxInsertVariables = 999

// insertRows runs insert (ending in "VALUES ") for rows, all of one
// width, in as few statements as maxInsertVariables allows.
func insertRows(ctx context.Context, tx *sql.Tx, insert string, rowArgs [][]any) error {
	if len(rowArgs) == 0 {
		return nil
	}
	width := len(rowArgs[0])
	per := max(1, maxInsertVariables/width)
	for chunk := range slices.Chunk(rowArgs, per) {
		args := make([]any, 0, len(chunk)*width)
		for _, r := range chunk {
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, insert+rows(len(chunk), width), args...); err != nil {
			return err
		}
	}
	return nil
}

// deleteEntryChildren removes an entry's child rows explicitly rather than
// relying on ON DELETE CASCADE, so updates can rewrite them.
func deleteEntryChildren(ctx context.Context, tx *sql.Tx, id string) error {
	for _, table := range []string{"entry_selectors", "entry_dns_names", "entry_federates_with"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE entry_id = ?`, id); err != nil {
			return fmt.Errorf("delete %s of entry %q: %w", table, id, err)
		}
	}
	return nil
}

// rows returns n parenthesised groups of width placeholders, for multi-row
// INSERT ... VALUES.
func rows(n, width int) string {
	group := "(" + placeholders(width) + ")"
	var b strings.Builder
	b.Grow(n * (len(group) + 1))
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(group)
	}
	return b.String()
}
