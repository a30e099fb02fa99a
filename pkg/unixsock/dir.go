package unixsock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxLinks bounds the symlinks followed while resolving a directory, as
// the kernel's limit does.
const maxLinks = 40

// DirError reports a directory on a socket's path that a user other than
// root and the daemon's uid can change.
type DirError struct {
	// Path is the directory.
	Path string
	// UID is its owner, Mode its permission bits (sticky bit included).
	UID  uint32
	Mode uint32
	// EUID is the daemon's effective uid.
	EUID int
	// SocketDir is true for the socket's own directory, which the
	// operator may declare shared; false for an ancestor.
	SocketDir bool
	// SharedHint says how to declare the directory shared (Config).
	SharedHint string
}

// Error names the directory, its owner and mode, and what is required.
func (e *DirError) Error() string {
	what := "socket directory"
	if !e.SocketDir {
		what = "directory on the socket path"
	}
	owners := "root"
	if e.EUID != 0 {
		owners = fmt.Sprintf("root or uid %d", e.EUID)
	}
	msg := fmt.Sprintf("unixsock: %s %q is owned by uid %d with mode %04o: it must be owned by %s and not writable by group or others (unless sticky), or another user can replace the socket",
		what, e.Path, e.UID, e.Mode, owners)
	if e.SocketDir && e.SharedHint != "" {
		msg += "; if the directory is shared on purpose, set " + e.SharedHint
	}
	return msg
}

// ErrUnsafeDir matches every *DirError with errors.Is.
var ErrUnsafeDir = errors.New("unixsock: unsafe socket directory")

// Is reports whether target is ErrUnsafeDir.
func (e *DirError) Is(target error) bool { return target == ErrUnsafeDir }

// dirInfo is a directory's owner and mode.
type dirInfo struct {
	path string
	uid  uint32
	mode uint32
}

// safe reports whether only root or euid can change the directory's
// entries: owned by one of them, and not writable by group or others
// unless sticky (then others may add entries but not touch ours).
func (d dirInfo) safe(euid int) bool {
	owner := d.uid == 0 || int64(d.uid) == int64(euid)
	writable := d.mode&0o022 != 0 && d.mode&unix.S_ISVTX == 0
	return owner && !writable
}

// checkPath resolves dir from / one name at a time, as the kernel does,
// following symlinks, and checks every directory it looks a name up in;
// then the resolved socket directory itself, unless shared. It returns the
// resolved socket directory's owner and mode.
func checkPath(dir string, euid int, shared bool, hint string) (dirInfo, error) {
	rest := split(dir)
	cur := "/"
	links := 0
	checked := map[string]bool{}
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case ".":
			continue
		case "..":
			// cur has no symlinks in it, so its lexical parent is its
			// real one; cur itself was checked when entered.
			cur = filepath.Dir(cur)
			continue
		}
		if !checked[cur] {
			info, err := lstatDir(cur)
			if err != nil {
				return dirInfo{}, err
			}
			if !info.safe(euid) {
				return dirInfo{}, &DirError{Path: cur, UID: info.uid, Mode: info.mode, EUID: euid}
			}
			checked[cur] = true
		}
		next := filepath.Join(cur, name)
		var st unix.Stat_t
		if err := unix.Lstat(next, &st); err != nil {
			return dirInfo{}, fmt.Errorf("unixsock: stat %q: %w", next, err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			cur = next
		case unix.S_IFLNK:
			if links++; links > maxLinks {
				return dirInfo{}, fmt.Errorf("unixsock: resolve %q: %w", dir, unix.ELOOP)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return dirInfo{}, fmt.Errorf("unixsock: %w", err)
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(split(target), rest...)
		default:
			return dirInfo{}, fmt.Errorf("unixsock: %q is not a directory", next)
		}
	}
	info, err := lstatDir(cur)
	if err != nil {
		return dirInfo{}, err
	}
	if !shared && !info.safe(euid) {
		return dirInfo{}, &DirError{Path: cur, UID: info.uid, Mode: info.mode, EUID: euid, SocketDir: true, SharedHint: hint}
	}
	return info, nil
}

// split returns p's names; an absolute p starts at /.
func split(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// lstatDir returns the owner and mode of the directory at path.
func lstatDir(path string) (dirInfo, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return dirInfo{}, fmt.Errorf("unixsock: stat %q: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return dirInfo{}, fmt.Errorf("unixsock: %q is not a directory", path)
	}
	return dirInfo{path: path, uid: st.Uid, mode: uint32(st.Mode) & 0o7777}, nil
}

// makeDirs creates dir and its missing parents with mode exactly, whatever
// the umask. Existing directories (a Kubernetes hostPath mount) keep their
// mode; checkPath judges them. Nothing is created below a directory that
// fails checkPath's rules (with euid), so every directory makeDirs creates
// stays the daemon's.
func makeDirs(dir string, mode fs.FileMode, euid int) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("unixsock: %w", err)
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := checkPath(filepath.Dir(missing[len(missing)-1]), euid, false, ""); err != nil {
		var de *DirError
		if errors.As(err, &de) {
			de.SocketDir = false // an ancestor of the socket's directory
		}
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := makeDir(missing[i], mode, euid); err != nil {
			return err
		}
	}
	return nil
}

// makeDir creates d and sets its mode through a descriptor opened without
// following links. A directory someone else created first is left alone.
func makeDir(d string, mode fs.FileMode, euid int) error {
	switch err := unix.Mkdir(d, 0o700); {
	case errors.Is(err, unix.EEXIST):
		return nil
	case err != nil:
		return fmt.Errorf("unixsock: create directory %q: %w", d, err)
	}
	fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("unixsock: open directory %q: %w", d, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("unixsock: stat directory %q: %w", d, err)
	}
	if int64(st.Uid) != int64(euid) {
		return nil // replaced by someone else's: checkPath refuses it
	}
	if err := unix.Fchmod(fd, uint32(mode.Perm())); err != nil {
		return fmt.Errorf("unixsock: set mode of directory %q: %w", d, err)
	}
	return nil
}
