package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/svidkit/svidkit/pkg/filelock"
)

// lockSuffix names the lock file next to the database: "<db>-server.lock".
// A separate file, not the database: SQLite takes fcntl locks on the
// database file, and on NFS flock is emulated with fcntl locks, which
// would then collide with SQLite's own.
const lockSuffix = "-server.lock"

// lockDatabase takes the exclusive lock on the database's lock file
// (pkg/filelock: created 0600, no symlink followed, released when the file
// is closed or the process dies, so a crashed server never leaves the
// database locked) and records this process's id in it, so that a second
// server process opening the same database is refused with an error
// naming the holder.
func lockDatabase(dbPath string) (*os.File, error) {
	p := dbPath + lockSuffix
	root, err := os.OpenRoot(filepath.Dir(p))
	if err != nil {
		return nil, fmt.Errorf("open lock file %q: %w", p, err)
	}
	defer root.Close()
	f, err := filelock.Lock(root, filepath.Base(p))
	if errors.Is(err, filelock.ErrLocked) {
		holder := lockHolder(f)
		return nil, errors.Join(fmt.Errorf("database is in use by another server%s (lock file %q): an SQLite datastore serves one server; for several servers on one trust domain use PostgreSQL (database_type = \"postgres\")", holder, p), f.Close())
	}
	if err != nil {
		return nil, fmt.Errorf("lock %q: %w", p, err)
	}
	if err := recordHolder(f); err != nil {
		return nil, errors.Join(fmt.Errorf("write lock file %q: %w", p, err), f.Close())
	}
	return f, nil
}

// recordHolder replaces the lock file's content with this process's id.
func recordHolder(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// lockHolder returns " (pid N)" from a lock file another process holds, or
// "" when it records no process id.
func lockHolder(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", pid)
}
