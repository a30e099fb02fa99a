package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// OSUser is the operating-system user a PostgreSQL process runs as.
type OSUser struct {
	// Name is the user's login name.
	Name     string
	UID, GID int
	// cred is nil for the test's own user: its processes need no switch.
	cred *syscall.Credential
}

// DatabaseUser is the user PostgreSQL runs as. PostgreSQL refuses to run
// as root, and requires its key file to be owned by the user it runs as,
// so as root (CI) it runs as the "postgres" user that Debian's package
// creates (or "nobody"); otherwise as the test's own user.
func DatabaseUser() (OSUser, error) {
	if os.Geteuid() != 0 {
		return CurrentUser()
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return OSUser{Name: name, UID: uid, GID: gid, cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}, nil
	}
	return OSUser{}, errors.New("running as root, but there is neither a postgres nor a nobody user to run PostgreSQL as")
}

// CurrentUser is the test's own user.
func CurrentUser() (OSUser, error) {
	u, err := user.Current()
	if err != nil {
		return OSUser{}, fmt.Errorf("current user: %w", err)
	}
	return OSUser{Name: u.Username, UID: os.Getuid(), GID: os.Getgid()}, nil
}

// Command returns a command that runs as u, in its own process group so
// that a terminal's Ctrl-C reaches only the test, which then stops it.
func (u OSUser) Command(name string, args ...string) *exec.Cmd {
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

// Mkdir creates dir with mode 0700, owned by u.
func (u OSUser) Mkdir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return u.chown(dir)
}

// WriteFile writes a file owned by u (mode 0600), for configuration and
// keys that u's processes read.
func (u OSUser) WriteFile(path string, content []byte) error {
	if err := os.WriteFile(path, content, 0o600); err != nil {
		return err
	}
	return u.chown(path)
}

// chown gives path to u when u is not the test's own user.
func (u OSUser) chown(path string) error {
	if u.cred == nil {
		return nil
	}
	return os.Chown(path, u.UID, u.GID)
}
