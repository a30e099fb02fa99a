// Package legacydb is the legacy-database example: PostgreSQL, which only
// reads certificates from files and reloads them on SIGHUP, authenticates
// its clients and is authenticated by them with X.509-SVIDs that svidkit
// issues and svidkit-helper writes. The test in this directory runs the
// whole flow with a real PostgreSQL; run.sh runs it by hand (see README.md).
package legacydb
