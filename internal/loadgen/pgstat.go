package loadgen

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// pgStat are pg_stat_database's counters of one database: what the
// database itself saw of the servers' load.
type pgStat struct {
	// Xacts is xact_commit + xact_rollback.
	Xacts float64
	// TupReturned and TupFetched are rows scanned and rows fetched.
	TupReturned float64
	TupFetched  float64
}

// readPGStat reads the counters of the database connString names.
// PostgreSQL publishes them with a delay of about a second (its stats are
// flushed at most once a second), which phases of a minute absorb.
func readPGStat(ctx context.Context, connString string) (pgStat, error) {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return pgStat{}, fmt.Errorf("pg_stat_database: %w", err)
	}
	defer conn.Close(context.Background())
	var s pgStat
	err = conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback, tup_returned, tup_fetched
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&s.Xacts, &s.TupReturned, &s.TupFetched)
	if err != nil {
		return pgStat{}, fmt.Errorf("pg_stat_database: %w", err)
	}
	return s, nil
}
