package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// changeLog is one kind of row (entries, agents) whose writes bump a
// revision counter and are logged by ID at the new revision, so that
// servers read what changed since the revision they hold (since, for
// entrychanges.go and agentchanges.go alike). The log keeps the latest
// changesKept revisions. The names are constants of this package, never
// input.
//
// Revisions commit in order, which the readers rely on: bump's UPDATE
// takes the revision row's lock, held until the transaction ends, so a
// concurrent writer's UPDATE waits for the commit and (READ COMMITTED)
// then increments the committed value. PostgreSQL marks a transaction
// committed before it releases its locks, so any snapshot that sees
// revision R sees every revision below R and its log rows too. Writers
// lock the changed rows first and the revision row last, so they never
// deadlock on the two.
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
// new revision, prunes the log to the latest kept revisions and notifies
// changesChannel (PostgreSQL delivers it to every listening server only on
// commit), so the counter, the log and the write commit together; the four
// statements (queueBump) go in one round trip.
func (l changeLog) bump(ctx context.Context, tx pgx.Tx, kept int64, ids ...string) error {
	var b pgx.Batch
	l.queueBump(&b, kept, ids...)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("bump %s revision: %w", l.kind, err)
	}
	return nil
}

// queueBump queues bump's statements on b, for a transaction sent as
// batches (Store.pipelinedWriteTx); they must be the transaction's last
// but its COMMIT.
func (l changeLog) queueBump(b *pgx.Batch, kept int64, ids ...string) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	b.Queue(`UPDATE `+l.revTable+`
		SET revision = revision + 1, changes_floor = GREATEST(changes_floor, revision + 1 - $1)
		WHERE id = 1`, kept)
	b.Queue(`INSERT INTO `+l.logTable+` (revision, `+l.idColumn+`)
		SELECT r.revision, u.id FROM `+l.revTable+` r, unnest($1::text[]) AS u (id) WHERE r.id = 1`, ids)
	// The prune names its range from both ends, the log's lowest revision
	// included: the planner cannot know the floor (a subquery's value)
	// and, for a one-sided "revision <= floor", assumes a third of the log
	// matches and chose a sequential scan of the whole log (100,000 rows
	// by default) on every write, though nothing or one revision's rows
	// fall below the floor. For a two-sided range it assumes a small
	// share and walks the primary key from the lowest revision.
	b.Queue(`DELETE FROM ` + l.logTable + `
		WHERE revision >= (SELECT min(revision) FROM ` + l.logTable + `)
		AND revision <= (SELECT changes_floor FROM ` + l.revTable + ` WHERE id = 1)`)
	b.Queue(`NOTIFY ` + changesChannel)
}

// changes is what a change log holds after a revision: the current
// revision and the IDs logged after the one asked for, each once, sorted;
// complete is false when the log does not reach back to that revision or
// it is ahead of the current one.
type changes struct {
	revision int64
	ids      []string
	complete bool
}

// sinceSQL reads the revision and the IDs logged after revision $1 in one
// statement, hence one snapshot: one row per logged change, or one row
// with a NULL ID when none or when the log no longer reaches back to $1.
func (l changeLog) sinceSQL() string {
	return `SELECT r.revision, r.changes_floor, c.` + l.idColumn + `
		FROM ` + l.revTable + ` r
		LEFT JOIN ` + l.logTable + ` c ON c.revision > $1 AND c.revision <= r.revision AND $1 >= r.changes_floor
		WHERE r.id = 1`
}

// since reads the changes after revision since in one statement, with q
// the pool (its own snapshot) or a transaction.
func (l changeLog) since(ctx context.Context, q querier, since int64) (changes, error) {
	rs, err := q.Query(ctx, l.sinceSQL(), since)
	if err != nil {
		return changes{}, fmt.Errorf("read %s changes: %w", l.kind, err)
	}
	return l.scanSince(rs, since)
}

// scanSince collects the rows of sinceSQL run with since, closing rs.
func (l changeLog) scanSince(rs pgx.Rows, since int64) (changes, error) {
	var out changes
	var floor int64
	var id *string
	err := eachRow(rs, func(r pgx.Rows) error {
		if err := r.Scan(&out.revision, &floor, &id); err != nil {
			return err
		}
		if id != nil {
			out.ids = append(out.ids, *id)
		}
		return nil
	})
	if err != nil {
		return changes{}, fmt.Errorf("read %s changes: %w", l.kind, err)
	}
	if since < floor || since > out.revision {
		return changes{revision: out.revision}, nil
	}
	out.complete = true
	// Sorted here, not in SQL, so the order does not depend on the
	// database's collation; a record changed at several revisions is
	// listed once.
	slices.Sort(out.ids)
	out.ids = slices.Compact(out.ids)
	return out, nil
}
