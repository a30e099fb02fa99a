package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpAgentsRevision logs the agent changed by the caller's transaction
// (agentChangeLog.bump); every agent write passes through it.
func (s *Store) bumpAgentsRevision(ctx context.Context, tx *sql.Tx, id string) error {
	return agentChangeLog.bump(ctx, tx, s.changesKept, id)
}

// AgentChangesSince returns the agents changed after revision since, read
// from the change log in one snapshot with the revision.
func (s *Store) AgentChangesSince(ctx context.Context, since int64) (datastore.AgentChanges, error) {
	var out datastore.AgentChanges
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		out = datastore.AgentChanges{}
		out.Revision, out.IDs, out.Complete, err = agentChangeLog.since(ctx, tx, since)
		return err
	})
	if err != nil {
		return datastore.AgentChanges{}, fmt.Errorf("sqlite: agent changes since %d: %w", since, err)
	}
	return out, nil
}
