package svidfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// matches reports whether files are on disk exactly as given, in the
// Writer's mode. Missing or foreign entries mean "no"; only unexpected I/O
// errors (permission denied, …) are returned as errors.
func (w *Writer) matches(files []File) (bool, error) {
	tops, subdirs := layoutOf(files)
	if w.mode == ModePlain {
		for _, f := range files {
			ok, err := fileMatches(w.root, f.path(), f)
			if !ok || err != nil {
				return false, err
			}
		}
		return w.subdirsHold("", subdirs)
	}
	cur, err := w.currentVersion()
	if err != nil || cur == "" {
		return false, err
	}
	for _, name := range tops {
		target, err := w.root.Readlink(name)
		if err != nil {
			return false, absentIsFalse(err, name)
		}
		if target != linkTarget(name) {
			return false, nil
		}
	}
	for _, f := range files {
		ok, err := fileMatches(w.root, path.Join(cur, f.path()), f)
		if !ok || err != nil {
			return false, err
		}
	}
	if ok, err := w.dirHolds(cur, tops); !ok || err != nil {
		return false, err
	}
	return w.subdirsHold(cur, subdirs)
}

// subdirsHold reports whether each subdirectory (inside parent, "" for
// the Writer's directory) holds exactly the set's files.
func (w *Writer) subdirsHold(parent string, subdirs map[string][]string) (bool, error) {
	for _, dir := range sortedKeys(subdirs) {
		if ok, err := w.dirHolds(path.Join(parent, dir), subdirs[dir]); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// fileMatches reports whether name inside root is a regular file (not a
// symlink) with exactly f's mode and content.
func fileMatches(root *os.Root, name string, f File) (bool, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		return false, absentIsFalse(err, f.path())
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != f.Mode || fi.Size() != int64(len(f.Data)) {
		return false, nil
	}
	data, err := root.ReadFile(name)
	if err != nil {
		return false, absentIsFalse(err, f.path())
	}
	return bytes.Equal(data, f.Data), nil
}

// absentIsFalse turns "does not exist"-like errors and "not a symlink" into
// a plain mismatch and wraps anything else.
func absentIsFalse(err error, name string) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EINVAL) {
		return nil
	}
	return fmt.Errorf("svidfile: check %q: %w", name, err)
}
