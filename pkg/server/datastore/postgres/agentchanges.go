package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpAgentsRevision logs the agent changed by the caller's transaction
// (agentChangeLog.bump); every agent write passes through it, last, after
// locking the agent's row.
func (s *Store) bumpAgentsRevision(ctx context.Context, tx pgx.Tx, id string) error {
	return agentChangeLog.bump(ctx, tx, s.changesKept, id)
}

// AgentChangesSince returns the agents changed after revision since, read
// with the revision in one statement (agentChangeLog.since).
func (s *Store) AgentChangesSince(ctx context.Context, since int64) (datastore.AgentChanges, error) {
	ch, err := agentChangeLog.since(ctx, s.pool, since)
	if err != nil {
		return datastore.AgentChanges{}, pgError("postgres: agent changes since %d: %w", since, err)
	}
	return datastore.AgentChanges{Revision: ch.revision, IDs: ch.ids, Complete: ch.complete}, nil
}
