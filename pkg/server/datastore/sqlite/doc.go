// Package sqlite implements datastore.Store on SQLite with the pure-Go
// modernc.org/sqlite driver, so the server needs no cgo.
//
// Concurrency: the store keeps two connection pools on one database file. The
// write pool has a single connection whose transactions start with
// BEGIN IMMEDIATE, so writers in this process queue in database/sql and
// writers in other processes wait on the file lock for the busy timeout;
// neither sees SQLITE_BUSY under ordinary contention. The read pool has
// several query-only connections; with the WAL journal, readers see a
// consistent snapshot and never block the writer.
//
// Portability: queries use only standard SQL (no SQLite-only functions) and
// positional "?" placeholders, which a PostgreSQL implementation rewrites
// mechanically to $1, $2, ... in order; no query depends on repeating or
// reordering a placeholder. Booleans are INTEGER 0/1. Upserts use
// INSERT ... ON CONFLICT ... DO UPDATE, which both engines accept.
//
// Schema: migrations are embedded SQL files (migrations/NNNN_name.sql)
// applied in one transaction at Open and recorded in schema_migrations. A
// database written by a newer version (a recorded version above the newest
// embedded one) is refused rather than guessed at.
package sqlite
