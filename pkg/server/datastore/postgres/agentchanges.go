package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bumpAgentsRevision advances the agents change counter in the caller's
// transaction, logs the agent at the new revision, prunes the log to the
// latest s.changesKept revisions and notifies changesChannel (delivered
// on commit only), so the counter, the log and the agent write commit
// together; every agent write passes through it, last, in one round trip.
// Revisions commit in order for the reason bumpEntriesRevision gives: the
// UPDATE holds the agents_revision row lock until the transaction ends.
// Agent writers lock the agent's row first and the revision row last, so
// they never deadlock on the two.
func (s *Store) bumpAgentsRevision(ctx context.Context, tx pgx.Tx, id string) error {
	var b pgx.Batch
	b.Queue(`UPDATE agents_revision
		SET revision = revision + 1, changes_floor = GREATEST(changes_floor, revision + 1 - $1)
		WHERE id = 1`, s.changesKept)
	b.Queue(`INSERT INTO agent_changes (revision, agent_id)
		SELECT revision, $1 FROM agents_revision WHERE id = 1`, id)
	b.Queue(`DELETE FROM agent_changes WHERE revision <= (SELECT changes_floor FROM agents_revision WHERE id = 1)`)
	b.Queue(`NOTIFY ` + changesChannel)
	res := tx.SendBatch(ctx, &b)
	var err error
	for range b.Len() {
		if _, err = res.Exec(); err != nil {
			break
		}
	}
	if err = errors.Join(err, res.Close()); err != nil {
		return fmt.Errorf("bump agents revision: %w", err)
	}
	return nil
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
