package svidfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockName is the lock file inside the target directory.
const lockName = "..lock"

// lockDir takes an exclusive, non-blocking flock on "..lock" inside root.
// The lock is released when the returned file is closed or the process
// dies, so a crashed writer never leaves the directory locked.
//
// Whoever can write the directory could plant "..lock" as a symlink; the
// writer, often root, must not create or open a file elsewhere through
// it. The lock is created with O_EXCL, which never follows a symlink, and
// an existing one is opened through root, which refuses a path that leaves
// the directory, and must then be the regular file that is there now.
// Anything else is refused with an error naming the file.
func lockDir(root *os.Root) (*os.File, error) {
	p := filepath.Join(root.Name(), lockName)
	f, err := root.OpenFile(lockName, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		f, err = root.OpenFile(lockName, os.O_RDWR, 0)
	}
	if err != nil {
		if target, lerr := root.Readlink(lockName); lerr == nil {
			return nil, fmt.Errorf("svidfile: lock %q is a symlink to %q; refusing to follow it", p, target)
		}
		return nil, fmt.Errorf("svidfile: open lock %q: %w", p, err)
	}
	if err := checkLockFile(root, f); err != nil {
		return nil, errors.Join(fmt.Errorf("svidfile: lock %q: %w", p, err), f.Close())
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		cerr := f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errors.Join(fmt.Errorf("svidfile: directory %q is locked by another writer", root.Name()), cerr)
		}
		return nil, errors.Join(fmt.Errorf("svidfile: lock %q: %w", p, err), cerr)
	}
	return f, nil
}

// checkLockFile reports an error unless the open lock f is the regular file
// named "..lock" in root, not something reached through a symlink.
func checkLockFile(root *os.Root, f *os.File) error {
	opened, err := f.Stat()
	if err != nil {
		return err
	}
	named, err := root.Lstat(lockName)
	if err != nil {
		return err
	}
	switch {
	case named.Mode()&fs.ModeSymlink != 0:
		return errors.New("is a symlink; refusing to follow it")
	case !named.Mode().IsRegular():
		return fmt.Errorf("is not a regular file (%v)", named.Mode().Type())
	case !os.SameFile(opened, named):
		return errors.New("was replaced while being opened")
	}
	return nil
}
