// Package postgres implements datastore.Store on PostgreSQL with pgx
// (pgxpool), for several servers sharing one database.
//
// Concurrency: transactions run at READ COMMITTED and every
// read-modify-write locks the rows it reads (SELECT ... FOR UPDATE, or FOR
// SHARE for the bundles an entry federates with), so a concurrent writer
// waits for the lock instead of failing; unique and primary keys decide
// racing creates (a unique violation is datastore.ErrAlreadyExists), and
// single-statement writes (DELETE ... RETURNING for a join token, INSERT
// ... ON CONFLICT) need no lock at all. Row locks were chosen over
// SERIALIZABLE because they never abort a transaction: no retry loop, no
// serialization failures surfaced under contention, and each method's
// locking is visible in its SQL. The one exception is UpdateBundle on a
// trust domain without a bundle, where there is no row to lock: a racing
// insert fails on the primary key and the update runs again.
//
// Change counters: entries_revision and bundles_revision are single rows
// bumped in the writing transaction (revision.go), the one place a change
// notification (LISTEN/NOTIFY) would be sent from.
//
// Schema: migrations are embedded SQL files (migrations/NNNN_name.sql)
// recorded in schema_migrations, applied at Open in one transaction under
// a session advisory lock, so servers starting together on an empty
// database migrate it once. A newer database is refused; with
// Config.DisableMigration an older one is refused too.
package postgres
