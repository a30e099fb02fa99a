package legacydb_test

import (
	"testing"

	"github.com/svidkit/svidkit/internal/pgtest"
)

// osUser is the operating-system user a process of the example runs as.
type osUser = pgtest.OSUser

// databaseUser is the user PostgreSQL and its helpers run as: as root
// (CI), the "postgres" user (PostgreSQL refuses root and wants its key
// file owned by the user it runs as); otherwise the test's own user.
func databaseUser(t *testing.T) osUser {
	t.Helper()
	u, err := pgtest.DatabaseUser()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// currentUser is the test's own user.
func currentUser(t *testing.T) osUser {
	t.Helper()
	u, err := pgtest.CurrentUser()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// mkdirAs creates dir with mode 0700, owned by u, and returns it.
func mkdirAs(t *testing.T, u osUser, dir string) string {
	t.Helper()
	if err := u.Mkdir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeFileAs writes a file owned by u (mode 0600) and returns its path.
func writeFileAs(t *testing.T, u osUser, path, content string) string {
	t.Helper()
	if err := u.WriteFile(path, []byte(content)); err != nil {
		t.Fatal(err)
	}
	return path
}
