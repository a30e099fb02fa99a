package svidfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockName is the lock file inside the target directory.
const lockName = "..lock"

// lockDir takes an exclusive, non-blocking flock on dir/..lock. The lock is
// released when the returned file is closed or the process dies, so a
// crashed writer never leaves the directory locked.
func lockDir(dir string) (*os.File, error) {
	p := filepath.Join(dir, lockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("svidfile: open lock %q: %w", p, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		cerr := f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errors.Join(fmt.Errorf("svidfile: directory %q is locked by another writer", dir), cerr)
		}
		return nil, errors.Join(fmt.Errorf("svidfile: lock %q: %w", p, err), cerr)
	}
	return f, nil
}
