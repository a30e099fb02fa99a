package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpAgentsRevision logs the agent changed by the caller's transaction
// (agentChangeLog.bump); every agent write passes through it, last, after
// locking the agent's row.
func (s *Store) bumpAgentsRevision(ctx context.Context, tx pgx.Tx, id string) error {
	return agentChangeLog.bump(ctx, tx, s.changesKept, id)
}

// AgentChangesSince returns the agents changed after revision since. The
// common case, nothing changed, is one statement; otherwise the revision
// and the log are read in one snapshot.
func (s *Store) AgentChangesSince(ctx context.Context, since int64) (datastore.AgentChanges, error) {
	var out datastore.AgentChanges
	read := func(q querier) (bool, error) {
		out = datastore.AgentChanges{}
		var floor int64
		if err := q.QueryRow(ctx, `SELECT revision, changes_floor FROM agents_revision WHERE id = 1`).
			Scan(&out.Revision, &floor); err != nil {
			return false, fmt.Errorf("read agents revision: %w", err)
		}
		out.Complete = since >= floor && since <= out.Revision
		return out.Complete && since < out.Revision, nil
	}
	more, err := read(s.pool)
	if err == nil && more {
		err = s.readTx(ctx, func(tx pgx.Tx) error {
			if more, err := read(tx); err != nil || !more {
				return err
			}
			rs, err := tx.Query(ctx, `SELECT DISTINCT agent_id FROM agent_changes
				WHERE revision > $1 AND revision <= $2`, since, out.Revision)
			if err != nil {
				return fmt.Errorf("read agent changes: %w", err)
			}
			var id string
			return wrapErr("read agent changes", eachRow(rs, func(r pgx.Rows) error {
				if err := r.Scan(&id); err != nil {
					return err
				}
				out.IDs = append(out.IDs, id)
				return nil
			}))
		})
	}
	if err != nil {
		return datastore.AgentChanges{}, pgError("postgres: agent changes since %d: %w", since, err)
	}
	// Sorted here, as EntryChangesSince, whatever the collation.
	slices.Sort(out.IDs)
	return out, nil
}
