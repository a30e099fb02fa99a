package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Join tokens are secrets: errors never include the token itself.

// CreateJoinToken stores a new single-use token.
func (s *Store) CreateJoinToken(ctx context.Context, t *datastore.JoinToken) error {
	if err := t.Validate(); err != nil {
		return pgError("postgres: create join token: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO join_tokens (token, expires_at_ns) VALUES ($1, $2)
		ON CONFLICT (token) DO NOTHING`, t.Token, toNanos(t.ExpiresAt))
	switch {
	case err != nil:
		return pgError("postgres: create join token: %w", err)
	case tag.RowsAffected() == 0:
		return pgError("postgres: create join token: %w", datastore.ErrAlreadyExists)
	}
	return nil
}

// ConsumeJoinToken deletes the token and returns it in one statement: of
// callers racing on any number of servers, exactly one deletes the row
// and gets the token. An expired token is deleted too, and reported as
// ErrExpired.
func (s *Store) ConsumeJoinToken(ctx context.Context, token string, now time.Time) (*datastore.JoinToken, error) {
	var expires int64
	err := s.pool.QueryRow(ctx, `DELETE FROM join_tokens WHERE token = $1 RETURNING expires_at_ns`, token).Scan(&expires)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, pgError("postgres: consume join token: %w", datastore.ErrNotFound)
	case err != nil:
		return nil, pgError("postgres: consume join token: %w", err)
	}
	t := &datastore.JoinToken{Token: token, ExpiresAt: fromNanos(expires)}
	if t.ExpiresAt.Before(now) {
		return nil, pgError("postgres: consume join token: expired at %s: %w",
			t.ExpiresAt.Format(time.RFC3339), datastore.ErrExpired)
	}
	return t, nil
}

// PruneJoinTokens deletes tokens that expired before the given time.
func (s *Store) PruneJoinTokens(ctx context.Context, before time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM join_tokens WHERE expires_at_ns < $1`, toNanos(before)); err != nil {
		return pgError("postgres: prune join tokens: %w", err)
	}
	return nil
}
