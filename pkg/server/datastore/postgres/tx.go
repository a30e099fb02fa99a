package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// deadlockAttempts bounds the runs of a write transaction that PostgreSQL
// aborted to break a deadlock.
const deadlockAttempts = 3

// writeTx runs fn in a READ COMMITTED transaction and commits it, or rolls
// it back when fn fails. Writers lock rows in different orders (an entry
// update locks the entry, then the bundles it federates with; a bundle
// delete the bundle, then the entries), so PostgreSQL may abort one of two
// such transactions as a deadlock; that one runs again. fn must therefore
// set every result it returns on each run.
func (s *Store) writeTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return retryDeadlock(func() error {
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
	})
}

// retryDeadlock runs a write transaction, once more when PostgreSQL
// aborted it to break a deadlock (up to deadlockAttempts runs), and marks
// a lost database Unavailable.
func retryDeadlock(run func() error) error {
	var err error
	for range deadlockAttempts {
		err = run()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "40P01" {
			break
		}
	}
	return markUnavailable(err)
}

// readTx runs fn in a read-only REPEATABLE READ transaction: one snapshot
// for an entry and its child rows.
func (s *Store) readTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return markUnavailable(pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn))
}

// querier is what read helpers need; the pool and a transaction both
// satisfy it.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ querier = (*pgxpool.Pool)(nil)
	_ querier = pgx.Tx(nil)
)

// isUniqueViolation reports whether err is a unique or primary key
// violation: a racing create that another transaction won.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// toNanos encodes t as Unix nanoseconds for a BIGINT column; the zero time
// is 0. Nanoseconds make time.Time values round-trip exactly.
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos decodes toNanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// wrapErr adds context to a non-nil error.
func wrapErr(context string, err error) error {
	if err == nil {
		return nil
	}
	return pgError("%s: %w", context, err)
}
