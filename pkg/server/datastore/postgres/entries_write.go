package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// CreateEntry stores e, assigning an ID when empty, CreatedAt and revision
// 0. Of racing creates of one ID or one (SPIFFE ID, parent ID, selectors),
// the unique indexes let exactly one commit; the others get
// ErrAlreadyExists.
func (s *Store) CreateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error) {
	if err := e.Validate(); err != nil {
		return nil, pgError("postgres: create entry: %w", err)
	}
	out := normalizeEntry(e)
	if out.ID == "" {
		out.ID = uuid.NewString()
	}
	out.CreatedAt = time.Now().Unix()
	out.RevisionNumber = 0
	// Two round trips (pipelinedWriteTx): the checks, the row and its
	// children; then the change-log bump and COMMIT.
	err := s.pipelinedWriteTx(ctx, func(b *pgx.Batch) {
		queueCheckUnique(b, out)
		queueLockFederatedBundles(b, out.FederatesWith)
		b.Queue(`INSERT INTO entries (id, spiffe_id, parent_id, selectors_hash,
			x509_svid_ttl, jwt_svid_ttl, hint, admin, downstream, expires_at, revision_number, created_at, owner)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING`,
			out.ID, out.SPIFFEID, out.ParentID, out.Selectors.Digest(),
			out.X509SVIDTTL, out.JWTSVIDTTL, out.Hint, out.Admin, out.Downstream,
			out.ExpiresAt, out.RevisionNumber, out.CreatedAt, out.Owner).Exec(func(tag pgconn.CommandTag) error {
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("entry %q: %w", out.ID, datastore.ErrAlreadyExists)
			}
			return nil
		})
		queueEntryChildren(b, out)
	}, func(b *pgx.Batch) {
		entryChangeLog.queueBump(b, s.changesKept, out.ID)
	})
	if isUniqueViolation(err) {
		// A racing create of the same SPIFFE ID, parent ID and selectors
		// committed between the check and the insert.
		err = fmt.Errorf("entry with the same spiffe_id, parent_id and selectors: %w", datastore.ErrAlreadyExists)
	}
	if err != nil {
		return nil, pgError("postgres: create entry: %w", err)
	}
	return out, nil
}

// UpdateEntry replaces every field of the entry with e.ID except CreatedAt
// and Owner, and increments its revision number, holding the entry's row lock.
func (s *Store) UpdateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error) {
	if err := e.Validate(); err != nil {
		return nil, pgError("postgres: update entry: %w", err)
	}
	out := normalizeEntry(e)
	// Two round trips (pipelinedWriteTx): the check, the row (locked by
	// its UPDATE before the federated bundles, as before) and its
	// children rewritten; then the change-log bump and COMMIT.
	err := s.pipelinedWriteTx(ctx, func(b *pgx.Batch) {
		queueCheckUnique(b, out)
		b.Queue(`UPDATE entries SET spiffe_id = $1, parent_id = $2, selectors_hash = $3,
			x509_svid_ttl = $4, jwt_svid_ttl = $5, hint = $6, admin = $7, downstream = $8, expires_at = $9,
			revision_number = revision_number + 1 WHERE id = $10
			RETURNING revision_number, created_at, owner`,
			out.SPIFFEID, out.ParentID, out.Selectors.Digest(),
			out.X509SVIDTTL, out.JWTSVIDTTL, out.Hint, out.Admin, out.Downstream,
			out.ExpiresAt, out.ID).QueryRow(func(r pgx.Row) error {
			err := r.Scan(&out.RevisionNumber, &out.CreatedAt, &out.Owner)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("entry %q: %w", out.ID, datastore.ErrNotFound)
			}
			return err
		})
		queueLockFederatedBundles(b, out.FederatesWith)
		for _, table := range []string{"entry_selectors", "entry_dns_names", "entry_federates_with"} {
			b.Queue(`DELETE FROM `+table+` WHERE entry_id = $1`, out.ID)
		}
		queueEntryChildren(b, out)
	}, func(b *pgx.Batch) {
		entryChangeLog.queueBump(b, s.changesKept, out.ID)
	})
	if isUniqueViolation(err) {
		err = fmt.Errorf("entry with the same spiffe_id, parent_id and selectors: %w", datastore.ErrAlreadyExists)
	}
	if err != nil {
		return nil, pgError("postgres: update entry: %w", err)
	}
	return out, nil
}

// DeleteEntry removes the entry (its child rows by cascade) and returns it
// as it was.
func (s *Store) DeleteEntry(ctx context.Context, id string) (*datastore.Entry, error) {
	var out *datastore.Entry
	// Two round trips (pipelinedWriteTx): the entry read and locked, then
	// deleted; then the change-log bump and COMMIT.
	err := s.pipelinedWriteTx(ctx, func(b *pgx.Batch) {
		out = nil
		queueReadEntryForUpdate(b, id, &out)
		b.Queue(`DELETE FROM entries WHERE id = $1`, id).Exec(func(tag pgconn.CommandTag) error {
			if out == nil || tag.RowsAffected() == 0 {
				return fmt.Errorf("entry %q: %w", id, datastore.ErrNotFound)
			}
			return nil
		})
	}, func(b *pgx.Batch) {
		entryChangeLog.queueBump(b, s.changesKept, id)
	})
	if err != nil {
		return nil, pgError("postgres: delete entry: %w", err)
	}
	finishEntry(out)
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

// queueCheckUnique queues the check that no other committed entry has
// e's SPIFFE ID, parent ID and selector set: its callback fails with
// ErrAlreadyExists naming that entry. A racing transaction can still
// commit the same first: the unique indexes catch that and the caller
// maps the violation.
func queueCheckUnique(b *pgx.Batch, e *datastore.Entry) {
	b.Queue(`SELECT id FROM entries
		WHERE spiffe_id = $1 AND parent_id = $2 AND selectors_hash = $3 AND id <> $4`,
		e.SPIFFEID, e.ParentID, e.Selectors.Digest(), e.ID).QueryRow(func(r pgx.Row) error {
		var other string
		err := r.Scan(&other)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("check entry uniqueness: %w", err)
		}
		return fmt.Errorf("entry %q has the same spiffe_id, parent_id and selectors: %w", other, datastore.ErrAlreadyExists)
	})
}

// queueLockFederatedBundles queues, when tds (sorted) is not empty, the
// lock of those trust domains' bundle rows FOR SHARE until commit (a
// concurrent DeleteBundle waits, then sees this entry and applies its
// mode to it); its callback fails with ErrNoFederatedBundle naming the
// first trust domain without a stored bundle.
func queueLockFederatedBundles(b *pgx.Batch, tds []string) {
	if len(tds) == 0 {
		return
	}
	b.Queue(`SELECT trust_domain FROM bundles WHERE trust_domain = ANY($1) ORDER BY trust_domain FOR SHARE`, tds).
		Query(func(rs pgx.Rows) error {
			have := make(map[string]bool, len(tds))
			var td string
			if err := eachRow(rs, func(r pgx.Rows) error {
				if err := r.Scan(&td); err != nil {
					return err
				}
				have[td] = true
				return nil
			}); err != nil {
				return fmt.Errorf("look up federated bundles: %w", err)
			}
			return datastore.CheckFederatedBundles(tds, have)
		})
}

// queueEntryChildren queues the inserts of e's selectors, DNS names and
// federated trust domains (one statement each, the values as arrays).
func queueEntryChildren(b *pgx.Batch, e *datastore.Entry) {
	if len(e.Selectors) > 0 {
		types, values := make([]string, len(e.Selectors)), make([]string, len(e.Selectors))
		for i, s := range e.Selectors {
			types[i], values[i] = s.Type, s.Value
		}
		b.Queue(`INSERT INTO entry_selectors (entry_id, type, value)
			SELECT $1, t, v FROM unnest($2::text[], $3::text[]) AS u (t, v)`, e.ID, types, values)
	}
	if len(e.DNSNames) > 0 {
		b.Queue(`INSERT INTO entry_dns_names (entry_id, position, name)
			SELECT $1, u.ord - 1, u.name FROM unnest($2::text[]) WITH ORDINALITY AS u (name, ord)`, e.ID, e.DNSNames)
	}
	if len(e.FederatesWith) > 0 {
		b.Queue(`INSERT INTO entry_federates_with (entry_id, trust_domain)
			SELECT $1, td FROM unnest($2::text[]) AS u (td)`, e.ID, e.FederatesWith)
	}
}
