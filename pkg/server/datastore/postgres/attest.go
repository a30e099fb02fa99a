package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// AttestAgent spends the join token, if any, and creates or replaces the
// agent in one transaction, committed only while ctx is live (see
// datastore.Store.AttestAgent). Of servers racing one token, the first
// DELETE takes the row; the others wait for it and find nothing if it
// commits, or the token if it rolls back.
func (s *Store) AttestAgent(ctx context.Context, a *datastore.Agent, joinToken string, now time.Time) (*datastore.Agent, error) {
	if err := a.Validate(); err != nil {
		return nil, pgError("postgres: attest agent: %w", err)
	}
	out := normalizeAgent(a)
	out.UpdatedAt = fromNanos(time.Now().UnixNano())
	err := s.writeTx(ctx, func(tx pgx.Tx) error {
		if joinToken != "" {
			if err := spendJoinToken(ctx, tx, joinToken, now); err != nil {
				return err
			}
		}
		if err := upsertAttested(ctx, tx, out); err != nil {
			return err
		}
		if err := s.bumpAgentsRevision(ctx, tx, out.SPIFFEID); err != nil {
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
		return nil, pgError("postgres: attest agent %q: %w", out.SPIFFEID, err)
	}
	return out, nil
}

// upsertAttested replaces the agent out.SPIFFEID unless it is banned, or
// creates it when absent. A racing attestation of the same new agent may
// insert it first: then it exists, and is replaced under its row lock.
func upsertAttested(ctx context.Context, tx pgx.Tx, out *datastore.Agent) error {
	err := replaceAgent(ctx, tx, out, true)
	if !errors.Is(err, datastore.ErrNotFound) {
		return err
	}
	out.CreatedAt = out.UpdatedAt
	err = insertAgent(ctx, tx, out)
	if errors.Is(err, datastore.ErrAlreadyExists) {
		err = replaceAgent(ctx, tx, out, true)
	}
	return err
}

// spendJoinToken deletes the token in tx; ErrNotFound when it does not
// exist, ErrExpired when it expired before now (the caller rolls back,
// and PruneJoinTokens removes it later).
func spendJoinToken(ctx context.Context, tx pgx.Tx, token string, now time.Time) error {
	var expires int64
	err := tx.QueryRow(ctx, `DELETE FROM join_tokens WHERE token = $1 RETURNING expires_at_ns`, token).Scan(&expires)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("join token: %w", datastore.ErrNotFound)
	case err != nil:
		return fmt.Errorf("join token: %w", err)
	case fromNanos(expires).Before(now):
		return fmt.Errorf("join token expired at %s: %w", fromNanos(expires).Format(time.RFC3339), datastore.ErrExpired)
	}
	return nil
}
