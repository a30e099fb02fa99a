package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
)

// TestWriteReadsFewRows: with 20,000 entries, agents and change-log rows
// of each kind (the log not yet full, as after a bulk setup), an entry
// created, found by another store in the change log and read, then
// deleted, and an agent created and read likewise, read a few rows, not
// a table.
// Before the fix every write's change-log prune scanned the whole log: the
// planner, which cannot know the floor, assumed a third of the log
// matched "revision <= floor" and chose a sequential scan; the loadgen
// saw pg_stat_database.tup_returned rise by the log's size per write.
//
// The tables have no planner statistics (autovacuum off, never analyzed),
// as the scan happened with or without them, and a statement's plan must
// not depend on them; the stores plan with and without generic plans
// (plan_cache_mode). Rows read are pg_stat_user_tables' seq_tup_read
// plus pg_stat_user_indexes' idx_tup_read, the user tables' share of
// pg_stat_database.tup_returned. A backend publishes its counters when
// its session ends, so the measured stores are closed before the read.
func TestWriteReadsFewRows(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testWriteReadsFewRows(t, mode)
		})
	}
}

// testWriteReadsFewRows is TestWriteReadsFewRows with PostgreSQL's
// plan_cache_mode set to planMode in the measured stores' sessions.
func testWriteReadsFewRows(t *testing.T, planMode string) {
	const (
		n = 20_000
		// maxRows bounds the rows the whole sequence below may read: each
		// statement reads a row or a few by index.
		maxRows = 200
	)
	ctx := t.Context()
	cs := pg.NewDatabase(t)
	setupStore := openConfig(t, postgres.Config{ConnString: cs})
	if err := setupStore.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	conn := connect(t, cs)
	for _, q := range []string{
		`ALTER TABLE entries SET (autovacuum_enabled = off)`,
		`ALTER TABLE entry_selectors SET (autovacuum_enabled = off)`,
		`ALTER TABLE entry_changes SET (autovacuum_enabled = off)`,
		`ALTER TABLE agents SET (autovacuum_enabled = off)`,
		`ALTER TABLE agent_changes SET (autovacuum_enabled = off)`,
		`INSERT INTO entries (id, spiffe_id, parent_id, selectors_hash, created_at)
			SELECT 'e' || g, 'spiffe://td/w/' || g, 'spiffe://td/agent/' || (g % 2000), md5(g::text), 0
			FROM generate_series(1, $1) g`,
		`INSERT INTO entry_selectors (entry_id, type, value) SELECT 'e' || g, 'unix', 'uid:' || g FROM generate_series(1, $1) g`,
		`INSERT INTO entry_changes (revision, entry_id) SELECT g, 'e' || g FROM generate_series(1, $1) g`,
		`UPDATE entries_revision SET revision = $1`,
		`INSERT INTO agents (spiffe_id, created_at_ns, updated_at_ns) SELECT 'spiffe://td/agent/' || g, 1, 1 FROM generate_series(1, $1) g`,
		`INSERT INTO agent_changes (revision, agent_id) SELECT g, 'spiffe://td/agent/' || g FROM generate_series(1, $1) g`,
		`UPDATE agents_revision SET revision = $1`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{n}
		}
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	before := waitTableStats(t, cs, map[string]int64{"entries": n, "entry_changes": n, "agents": n, "agent_changes": n}, nil)

	// Servers run their statements prepared (pgx's statement cache), and
	// PostgreSQL plans a prepared statement once for every parameter
	// value (a generic plan) after its fifth run; force that from the
	// first, as well as custom plans.
	w := openConfig(t, postgres.Config{ConnString: cs + " options='-c plan_cache_mode=" + planMode + "'"})
	r := openConfig(t, postgres.Config{ConnString: cs + " options='-c plan_cache_mode=" + planMode + "'"})
	e, err := w.CreateEntry(ctx, &datastore.Entry{SPIFFEID: "spiffe://td/probe", ParentID: "spiffe://td/agent/1",
		Selectors: selector.NewSet(selector.Selector{Type: "unix", Value: "uid:probe"})})
	if err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}
	// As another server's entry cache reads it: the log and the changed
	// entries in one call.
	changes, err := r.EntryChangesSince(ctx, n, 1000)
	if err != nil || !changes.Complete || len(changes.IDs) != 1 || len(changes.Entries) != 1 || changes.Entries[0].ID != e.ID {
		t.Fatalf("EntryChangesSince(%d) = %+v, %v; want the created entry with its change", n, changes, err)
	}
	if _, err := w.DeleteEntry(ctx, e.ID); err != nil {
		t.Fatalf("DeleteEntry: %v", err)
	}
	if _, err := w.CreateAgent(ctx, &datastore.Agent{SPIFFEID: "spiffe://td/agent/probe", AttestationType: "join_token",
		SerialNumber: "1", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("CreateAgent: %v", err)
	}
	if ac, err := r.AgentChangesSince(ctx, n); err != nil || !ac.Complete || len(ac.IDs) != 1 {
		t.Fatalf("AgentChangesSince(%d) = %+v, %v; want the created agent", n, ac, err)
	}
	if _, err := r.GetAgent(ctx, "spiffe://td/agent/probe"); err != nil {
		t.Fatalf("GetAgent: %v", err)
	}
	for _, s := range []*postgres.Store{w, r} {
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	after := waitTableStats(t, cs, map[string]int64{"entries": n + 1, "entry_changes": n + 2, "agents": n + 1, "agent_changes": n + 1},
		map[string]int64{"entries": 1})

	var total int64
	var by []string
	for table, rows := range after.read {
		if d := rows - before.read[table]; d > 0 {
			total += d
			by = append(by, fmt.Sprintf("%s %d", table, d))
		}
	}
	if total >= maxRows {
		t.Errorf("an entry and an agent written and read by another store read %d rows (%s); want fewer than %d",
			total, strings.Join(by, ", "), maxRows)
	}
}

// tableStats are the cumulative statistics of a database's user tables.
type tableStats struct {
	// read is rows read per table: sequential scans' rows and index
	// entries returned by its indexes.
	read map[string]int64
	// ins and del are rows inserted and deleted per table.
	ins, del map[string]int64
}

// waitTableStats waits until the tables' published counters show at least
// ins rows inserted and del deleted, that is until the sessions that wrote
// them have published their statistics, and returns the counters.
func waitTableStats(t *testing.T, cs string, ins, del map[string]int64) tableStats {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st := readTableStats(t, cs)
		if atLeast(st.ins, ins) && atLeast(st.del, del) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("table statistics not published within a minute: inserted %v, deleted %v; want %v, %v", st.ins, st.del, ins, del)
		}
		time.Sleep(20 * time.Millisecond) // polling PostgreSQL's published counters: no event to wait on
	}
}

// atLeast reports whether have[k] >= want[k] for every k in want.
func atLeast(have, want map[string]int64) bool {
	for k, v := range want {
		if have[k] < v {
			return false
		}
	}
	return true
}

// readTableStats reads the counters in a new session, hence a fresh
// statistics snapshot.
func readTableStats(t *testing.T, cs string) tableStats {
	t.Helper()
	ctx := t.Context()
	conn := connect(t, cs)
	defer conn.Close(context.WithoutCancel(ctx))
	rs, err := conn.Query(ctx, `SELECT t.relname, t.seq_tup_read + COALESCE(i.read, 0), t.n_tup_ins, t.n_tup_del
		FROM pg_stat_user_tables t
		LEFT JOIN (SELECT relid, sum(idx_tup_read)::bigint AS read FROM pg_stat_user_indexes GROUP BY relid) i USING (relid)`)
	if err != nil {
		t.Fatalf("read table statistics: %v", err)
	}
	st := tableStats{read: map[string]int64{}, ins: map[string]int64{}, del: map[string]int64{}}
	var name string
	var read, ins, del int64
	if _, err := pgx.ForEachRow(rs, []any{&name, &read, &ins, &del}, func() error {
		st.read[name], st.ins[name], st.del[name] = read, ins, del
		return nil
	}); err != nil {
		t.Fatalf("read table statistics: %v", err)
	}
	return st
}

// connect opens a plain session on the database, closed when the test ends.
func connect(t *testing.T, cs string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), cs)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
