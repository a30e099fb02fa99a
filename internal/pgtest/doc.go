// Package pgtest runs a real PostgreSQL server from the system's packages
// in a temporary directory, for tests: one server per test package
// (started from TestMain), a fresh database per test.
//
//	var pg pgtest.Server
//
//	func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }
//
//	func TestX(t *testing.T) {
//		connString := pg.NewDatabase(t)
//		...
//	}
//
// Without PostgreSQL installed the tests that ask for a database are
// skipped, except under CI (CI set in the environment), where the whole
// package fails: CI must run them.
package pgtest
