package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// querier is what read helpers need; *sql.DB and *sql.Tx both satisfy it.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a transaction on db and commits it, or rolls it back when
// fn fails.
func inTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		// The rollback error adds nothing: the transaction is abandoned
		// either way and fn's error is the cause.
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// writeTx runs fn in an IMMEDIATE transaction on the single write
// connection and, once it committed, announces the write to the store's
// subscribers (SubscribeChanges). Every entry, bundle and agent write
// passes through it.
func (s *Store) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := inTx(ctx, s.write, nil, fn); err != nil {
		return err
	}
	s.changes.Announce()
	return nil
}

// readTx runs fn in a read-only snapshot transaction on the read pool. The
// driver starts read-only transactions with a deferred BEGIN, so they take
// a snapshot without the write lock.
func (s *Store) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return inTx(ctx, s.read, &sql.TxOptions{ReadOnly: true}, fn)
}

// boolInt encodes a boolean for an INTEGER 0/1 column.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// placeholders returns n comma-separated "?" placeholders.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, 0, 2*n)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '?')
	}
	return string(b)
}
