package legacydb_test

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"testing"
)

// osUser is the operating-system user a process of the example runs as.
type osUser struct {
	name     string
	uid, gid int
	// cred is nil for the test's own user: its processes need no switch.
	cred *syscall.Credential
}

// databaseUser is the user PostgreSQL and its helpers run as. PostgreSQL
// refuses to run as root, and requires its key file to be owned by the
// user it runs as, so as root (CI) the database side runs as the
// "postgres" user that Debian's package creates (or "nobody"); otherwise
// everything runs as the test's user.
func databaseUser(t *testing.T) osUser {
	t.Helper()
	if os.Geteuid() != 0 {
		return currentUser(t)
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return osUser{name: name, uid: uid, gid: gid, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	}
	t.Fatal("running as root, but there is neither a postgres nor a nobody user to run PostgreSQL as")
	return osUser{}
}

// currentUser is the test's own user.
func currentUser(t *testing.T) osUser {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	return osUser{name: u.Username, uid: os.Getuid(), gid: os.Getgid()}
}

// command returns a command that runs as u, in its own process group so
// that a terminal's Ctrl-C reaches only the test, which then stops it.
func (u osUser) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: u.cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if u.cred != nil {
		// The test's working directory may be closed to u (a clone under
		// /root); PostgreSQL's programs look up the current directory.
		cmd.Dir = "/"
	}
	return cmd
}

// mkdir creates dir with mode 0700, owned by u.
func (u osUser) mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if u.cred != nil {
		if err := os.Chown(dir, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeFile writes a file owned by u (mode 0600), for configuration that
// u's processes read.
func (u osUser) writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if u.cred != nil {
		if err := os.Chown(path, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
