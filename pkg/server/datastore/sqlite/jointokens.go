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
	var expires int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT expires_at_ns FROM join_tokens WHERE token = ?`, token).Scan(&expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return datastore.ErrNotFound
		case err != nil:
			return fmt.Errorf("look up: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM join_tokens WHERE token = ?`, token)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		// Another process may share the file; only the deleting
		// transaction owns the token.
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete: %w", err)
		} else if n != 1 {
			return datastore.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: consume join token: %w", err)
	}
	t := &datastore.JoinToken{Token: token, ExpiresAt: fromNanos(expires)}
	if t.ExpiresAt.Before(now) {
		return nil, fmt.Errorf("sqlite: consume join token: expired at %s: %w",
			t.ExpiresAt.Format(time.RFC3339), datastore.ErrExpired)
	}
	return t, nil
}

// PruneJoinTokens deletes tokens that expired before the given time.
func (s *Store) PruneJoinTokens(ctx context.Context, before time.Time) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM join_tokens WHERE expires_at_ns < ?`, toNanos(before)); err != nil {
		return fmt.Errorf("sqlite: prune join tokens: %w", err)
	}
	return nil
}
