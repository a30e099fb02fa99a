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
	if w.mode == ModePlain {
		for _, f := range files {
			ok, err := fileMatches(w.root, f.Name, f)
			if !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	}
	cur, err := w.currentVersion()
	if err != nil || cur == "" {
		return false, err
	}
	for _, f := range files {
		target, err := w.root.Readlink(f.Name)
		if err != nil {
			return false, absentIsFalse(err, f.Name)
		}
		if target != linkTarget(f.Name) {
			return false, nil
		}
		ok, err := fileMatches(w.root, path.Join(cur, f.Name), f)
		if !ok || err != nil {
			return false, err
		}
	}
	entries, err := fs.ReadDir(w.root.FS(), cur)
	if err != nil {
		return false, absentIsFalse(err, cur)
	}
	return len(entries) == len(files), nil
}

// fileMatches reports whether name inside root is a regular file (not a
// symlink) with exactly f's mode and content.
func fileMatches(root *os.Root, name string, f File) (bool, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		return false, absentIsFalse(err, f.Name)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != f.Mode || fi.Size() != int64(len(f.Data)) {
		return false, nil
	}
	data, err := root.ReadFile(name)
	if err != nil {
		return false, absentIsFalse(err, f.Name)
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
