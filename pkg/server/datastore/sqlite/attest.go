package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// AttestAgent spends the join token, if any, and creates or replaces the
// agent in one write transaction, committed only while ctx is live (see
// datastore.Store.AttestAgent).
func (s *Store) AttestAgent(ctx context.Context, a *datastore.Agent, joinToken string, now time.Time) (*datastore.Agent, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("sqlite: attest agent: %w", err)
	}
	out := normalizeAgent(a)
	out.UpdatedAt = fromNanos(time.Now().UnixNano())
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if joinToken != "" {
			if err := spendJoinToken(ctx, tx, joinToken, now); err != nil {
				return err
			}
		}
		err := replaceAgent(ctx, tx, out, true)
		if errors.Is(err, datastore.ErrNotFound) {
			out.CreatedAt = out.UpdatedAt
			err = insertAgent(ctx, tx, out)
		}
		if err == nil {
			err = s.bumpAgentsRevision(ctx, tx, out.SPIFFEID)
		}
		if err != nil {
			return err
		}
		// The caller gave up while the write waited or ran: roll back,
		// so that its join token stays usable for its retry.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("caller gone before commit, rolled back: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: attest agent %q: %w", out.SPIFFEID, err)
	}
	return out, nil
}

// spendJoinToken deletes the token in tx; ErrNotFound when it does not
// exist, ErrExpired when it expired before now (the caller rolls back,
// and PruneJoinTokens removes it later).
func spendJoinToken(ctx context.Context, tx *sql.Tx, token string, now time.Time) error {
	expires, err := deleteJoinToken(ctx, tx, token)
	switch {
	case err != nil:
		return fmt.Errorf("join token: %w", err)
	case expires.Before(now):
		return fmt.Errorf("join token expired at %s: %w", expires.Format(time.RFC3339), datastore.ErrExpired)
	}
	return nil
}
