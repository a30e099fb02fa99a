package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipelinedWriteTx runs a READ COMMITTED write transaction in two round
// trips instead of one per statement: BEGIN and body's statements in one
// batch, then, when every one of them succeeded and its callback
// (pgx.QueuedQuery's Exec, QueryRow or Query) returned nil, end's
// statements and COMMIT in a second. Otherwise the transaction is rolled
// back and the first error returned. body's statements cannot depend on
// one another's results in Go; checks that must stop the write are
// callbacks returning an error.
//
// end is for the change-log bump (changeLog.queueBump): its UPDATE takes
// the revision row's lock, which every writer of the kind waits for, and
// the COMMIT in the same batch releases it without a round trip to this
// process in between, so the serialised section is the server's own work.
// Like writeTx, a transaction aborted as a deadlock runs again, and the
// batches must be built afresh by each call of body and end.
func (s *Store) pipelinedWriteTx(ctx context.Context, body, end func(*pgx.Batch)) error {
	return retryDeadlock(func() error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		// A connection left inside a transaction (a failed ROLLBACK, a
		// cancelled context) is closed by the pool on release, never reused.
		defer conn.Release()
		var first pgx.Batch
		first.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
		body(&first)
		if err := conn.SendBatch(ctx, &first).Close(); err != nil {
			return errors.Join(err, rollback(ctx, conn.Conn()))
		}
		var last pgx.Batch
		end(&last)
		last.Queue(`COMMIT`).Exec(func(tag pgconn.CommandTag) error {
			if tag.String() == "ROLLBACK" {
				return pgx.ErrTxCommitRollback
			}
			return nil
		})
		if err := conn.SendBatch(ctx, &last).Close(); err != nil {
			return errors.Join(err, rollback(ctx, conn.Conn()))
		}
		return nil
	})
}

// rollback ends the transaction a failed batch left open, if any.
func rollback(ctx context.Context, conn *pgx.Conn) error {
	if conn.IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return nil
	}
	if _, err := conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`); err != nil {
		return fmt.Errorf("roll back: %w", err)
	}
	return nil
}
