package filelock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned, wrapped, when another open file description
// (another process, or another Lock in this one) holds the lock.
var ErrLocked = errors.New("locked by another holder")

// Lock takes an exclusive, non-blocking flock on the file name inside
// root, creating it 0600 if it does not exist. The lock is released when
// the returned file is closed or the process dies, so a crashed holder
// never leaves it locked. When another holder has it, the error wraps
// ErrLocked and the returned file is still open (read its content, e.g. a
// recorded pid, then close it); on every other error the file is nil.
//
// The file is created with O_EXCL, which never follows a symlink; an
// existing one is opened through root, which refuses a path that leaves
// the directory, and must then be the regular file that is there now.
// Anything else is refused with an error naming the file.
func Lock(root *os.Root, name string) (*os.File, error) {
	f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		f, err = root.OpenFile(name, os.O_RDWR, 0)
	}
	if err != nil {
		if target, lerr := root.Readlink(name); lerr == nil {
			return nil, fmt.Errorf("lock file is a symlink to %q; refusing to follow it", target)
		}
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := check(root, name, f); err != nil {
		return nil, errors.Join(fmt.Errorf("lock file %w", err), f.Close())
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return f, ErrLocked
		}
		return nil, errors.Join(fmt.Errorf("flock: %w", err), f.Close())
	}
	return f, nil
}

// check reports an error unless the open file f is the regular file named
// name in root, not something reached through a symlink.
func check(root *os.Root, name string, f *os.File) error {
	opened, err := f.Stat()
	if err != nil {
		return err
	}
	named, err := root.Lstat(name)
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
