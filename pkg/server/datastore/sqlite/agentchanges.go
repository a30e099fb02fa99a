package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpAgentsRevision advances the agents change counter in the caller's
// transaction, logs the agent at the new revision and prunes the log to
// the latest s.changesKept revisions, so the counter, the log and the
// agent write commit together; every agent write passes through it.
// Revisions commit in order: SQLite has one writer at a time.
func (s *Store) bumpAgentsRevision(ctx context.Context, tx *sql.Tx, id string) error {
	var rev, floor int64
	if err := tx.QueryRowContext(ctx, `UPDATE agents_revision
		SET revision = revision + 1, changes_floor = MAX(changes_floor, revision + 1 - ?)
		WHERE id = 1 RETURNING revision, changes_floor`, s.changesKept).Scan(&rev, &floor); err != nil {
		return fmt.Errorf("bump agents revision: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO agent_changes (revision, agent_id) VALUES (?, ?)`, rev, id); err != nil {
		return fmt.Errorf("record agent change: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM agent_changes WHERE revision <= ?`, floor); err != nil {
		return fmt.Errorf("prune agent changes: %w", err)
	}
	return nil
}

// AgentChangesSince returns the agents changed after revision since, read
// from the change log in one snapshot with the revision.
func (s *Store) AgentChangesSince(ctx context.Context, since int64) (datastore.AgentChanges, error) {
	var out datastore.AgentChanges
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		out = datastore.AgentChanges{}
		var floor int64
		if err := tx.QueryRowContext(ctx, `SELECT revision, changes_floor FROM agents_revision WHERE id = 1`).
			Scan(&out.Revision, &floor); err != nil {
			return fmt.Errorf("read agents revision: %w", err)
		}
		if since < floor || since > out.Revision {
			return nil
		}
		out.Complete = true
		if since == out.Revision {
			return nil
		}
		rs, err := tx.QueryContext(ctx, `SELECT DISTINCT agent_id FROM agent_changes
			WHERE revision > ? AND revision <= ? ORDER BY agent_id`, since, out.Revision)
		if err != nil {
			return fmt.Errorf("read agent changes: %w", err)
		}
		return wrapErr("read agent changes", eachRow(rs, func(r *sql.Rows) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			out.IDs = append(out.IDs, id)
			return nil
		}))
	})
	if err != nil {
		return datastore.AgentChanges{}, fmt.Errorf("sqlite: agent changes since %d: %w", since, err)
	}
	return out, nil
}
