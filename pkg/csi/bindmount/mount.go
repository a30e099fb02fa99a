package bindmount

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// targetMode is the mode of the target directory Ensure creates; the
// kubelet creates its parent.
const targetMode = 0o750

// roFlags make the bind read-only, and forbid set-uid programs, device
// nodes and execution through it: the directory holds only sockets.
const roFlags = unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// Result says what Ensure did.
type Result struct {
	// Mounted is true when Ensure made a new mount, false when the one
	// there already was the read-only bind of source.
	Mounted bool
	// Removed counts the mounts taken off target first: stacked mounts,
	// a bind of another (or a deleted) directory, or a read-write bind.
	Removed int
}

// Ensure makes target (a directory, created if missing) show source
// through exactly one read-only bind mount. When that is already so it
// changes nothing; any other mounts on target are unmounted first.
func Ensure(source, target string) (Result, error) {
	var res Result
	if err := os.Mkdir(target, targetMode); err != nil && !errors.Is(err, os.ErrExist) {
		return res, fmt.Errorf("bindmount: create target %q: %w", target, err)
	}
	layers, err := Layers(target)
	if err != nil {
		return res, err
	}
	if len(layers) == 1 && readOnly(layers[0]) {
		same, err := sameDir(source, target)
		if err != nil {
			return res, err
		}
		if same {
			return res, nil
		}
	}
	if res.Removed, err = unmountAll(target, len(layers)); err != nil {
		return res, err
	}
	if err := bindReadOnly(source, target); err != nil {
		return res, err
	}
	res.Mounted = true
	return res, nil
}

// Remove unmounts every mount on target and removes the directory. A
// target that is already gone, or not mounted, is not an error. It
// returns the number of mounts removed.
func Remove(target string) (int, error) {
	layers, err := Layers(target)
	if err != nil {
		return 0, err
	}
	n, err := unmountAll(target, len(layers))
	if err != nil {
		return n, err
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return n, fmt.Errorf("bindmount: remove target %q: %w", target, err)
	}
	return n, nil
}

// unmountAll unmounts the top mount of target up to n times, stopping
// early when nothing is mounted there any more.
func unmountAll(target string, n int) (int, error) {
	for i := range n {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil:
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return i, nil // not (or no longer) a mount point
		default:
			return i, fmt.Errorf("bindmount: unmount %q: %w", target, err)
		}
	}
	return n, nil
}

// bindReadOnly bind-mounts source on target and makes the new mount
// read-only; it takes the mount off again if the second step fails, so a
// read-write bind never stays.
func bindReadOnly(source, target string) error {
	if err := unix.Mount(source, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bindmount: bind %q on %q: %w", source, target, err)
	}
	if err := unix.Mount("", target, "", roFlags, ""); err != nil {
		return errors.Join(fmt.Errorf("bindmount: make %q read-only: %w", target, err), unix.Unmount(target, 0))
	}
	return nil
}

// sameDir reports whether the mount on target shows source (same device
// and inode). A target that cannot be stat'ed (a broken mount) does not.
func sameDir(source, target string) (bool, error) {
	var ss, st unix.Stat_t
	if err := unix.Stat(source, &ss); err != nil {
		return false, fmt.Errorf("bindmount: stat %q: %w", source, err)
	}
	if err := unix.Stat(target, &st); err != nil {
		return false, nil
	}
	return ss.Dev == st.Dev && ss.Ino == st.Ino, nil
}
