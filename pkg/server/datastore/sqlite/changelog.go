package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// changeLog is one kind of row (entries, agents) whose writes bump a
// revision counter and are logged by ID at the new revision, so that a
// server can read what changed since the revision it holds. The log keeps
// the latest changesKept revisions: changes_floor follows the revision and
// the rows at or below it are deleted. Revisions commit in order: SQLite
// has one writer at a time, across processes too. The names are constants
// of this package, never input.
type changeLog struct {
	kind     string // "entries", "agents": for errors
	revTable string // one row, id 1: revision, changes_floor
	logTable string // (revision, idColumn)
	idColumn string
}

var (
	entryChangeLog = changeLog{kind: "entries", revTable: "entries_revision", logTable: "entry_changes", idColumn: "entry_id"}
	agentChangeLog = changeLog{kind: "agents", revTable: "agents_revision", logTable: "agent_changes", idColumn: "agent_id"}
)

// bump advances the revision in the caller's transaction, logs ids at the
// new revision and prunes the log, so that the counter, the log and the
// write commit together.
func (l changeLog) bump(ctx context.Context, tx *sql.Tx, kept int64, ids ...string) error {
	var rev, floor int64
	if err := tx.QueryRowContext(ctx, `UPDATE `+l.revTable+`
		SET revision = revision + 1, changes_floor = MAX(changes_floor, revision + 1 - ?)
		WHERE id = 1 RETURNING revision, changes_floor`, kept).Scan(&rev, &floor); err != nil {
		return fmt.Errorf("bump %s revision: %w", l.kind, err)
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	changes := make([][]any, len(ids))
	for i, id := range ids {
		changes[i] = []any{rev, id}
	}
	if err := insertRows(ctx, tx, `INSERT INTO `+l.logTable+` (revision, `+l.idColumn+`) VALUES `, changes); err != nil {
		return fmt.Errorf("record %s changes: %w", l.kind, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+l.logTable+` WHERE revision <= ?`, floor); err != nil {
		return fmt.Errorf("prune %s changes: %w", l.kind, err)
	}
	return nil
}

// since reads, in the caller's read transaction (one snapshot), the
// current revision and the IDs logged after revision since, each once,
// sorted; complete is false when the log does not reach back to since or
// since is ahead of the revision.
func (l changeLog) since(ctx context.Context, tx *sql.Tx, since int64) (rev int64, ids []string, complete bool, err error) {
	var floor int64
	if err := tx.QueryRowContext(ctx, `SELECT revision, changes_floor FROM `+l.revTable+` WHERE id = 1`).
		Scan(&rev, &floor); err != nil {
		return 0, nil, false, fmt.Errorf("read %s revision: %w", l.kind, err)
	}
	if since < floor || since > rev {
		return rev, nil, false, nil
	}
	if since == rev {
		return rev, nil, true, nil
	}
	rs, err := tx.QueryContext(ctx, `SELECT DISTINCT `+l.idColumn+` FROM `+l.logTable+`
		WHERE revision > ? AND revision <= ? ORDER BY `+l.idColumn, since, rev)
	if err != nil {
		return 0, nil, false, fmt.Errorf("read %s changes: %w", l.kind, err)
	}
	err = wrapErr("read "+l.kind+" changes", eachRow(rs, func(r *sql.Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	}))
	return rev, ids, err == nil, err
}
