package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Join tokens are secrets: errors never include the token itself.

// CreateJoinToken stores a new single-use token.
func (s *Store) CreateJoinToken(ctx context.Context, t *datastore.JoinToken) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("sqlite: create join token: %w", err)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM join_tokens WHERE token = ?`, t.Token).Scan(&one); {
		case err == nil:
			return datastore.ErrAlreadyExists
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO join_tokens (token, expires_at_ns) VALUES (?, ?)`,
			t.Token, toNanos(t.ExpiresAt)); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: create join token: %w", err)
	}
	return nil
}

// ConsumeJoinToken deletes the token and returns it, in one write
// transaction, so concurrent callers see it exactly once. An expired token
// is deleted too, and reported as ErrExpired.
func (s *Store) ConsumeJoinToken(ctx context.Context, token string, now time.Time) (*datastore.JoinToken, error) {
	var expires time.Time
	err := s.writeTx(ctx, func(tx *sql.Tx) (err error) {
		expires, err = deleteJoinToken(ctx, tx, token)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: consume join token: %w", err)
	}
	t := &datastore.JoinToken{Token: token, ExpiresAt: expires}
	if t.ExpiresAt.Before(now) {
		return nil, fmt.Errorf("sqlite: consume join token: expired at %s: %w",
			t.ExpiresAt.Format(time.RFC3339), datastore.ErrExpired)
	}
	return t, nil
}

// deleteJoinToken deletes the token in tx and returns its expiry;
// ErrNotFound when it does not exist. Another process may share the file:
// only the deleting transaction owns the token.
func deleteJoinToken(ctx context.Context, tx *sql.Tx, token string) (time.Time, error) {
	var expires int64
	err := tx.QueryRowContext(ctx, `SELECT expires_at_ns FROM join_tokens WHERE token = ?`, token).Scan(&expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, datastore.ErrNotFound
	case err != nil:
		return time.Time{}, fmt.Errorf("look up join token: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM join_tokens WHERE token = ?`, token)
	if err != nil {
		return time.Time{}, fmt.Errorf("delete join token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return time.Time{}, fmt.Errorf("delete join token: %w", err)
	} else if n != 1 {
		return time.Time{}, datastore.ErrNotFound
	}
	return fromNanos(expires), nil
}

// PruneJoinTokens deletes tokens that expired before the given time.
func (s *Store) PruneJoinTokens(ctx context.Context, before time.Time) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM join_tokens WHERE expires_at_ns < ?`, toNanos(before)); err != nil {
		return fmt.Errorf("sqlite: prune join tokens: %w", err)
	}
	return nil
}
