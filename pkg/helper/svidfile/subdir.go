package svidfile

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
)

// path is the file's path relative to the Writer's directory.
func (f File) path() string {
	if f.Dir == "" {
		return f.Name
	}
	return f.Dir + "/" + f.Name
}

// layoutOf returns the visible top-level names of files (plain names and
// subdirectories) in first appearance order, and the file names per
// subdirectory.
func layoutOf(files []File) (tops []string, subdirs map[string][]string) {
	subdirs = make(map[string][]string)
	for _, f := range files {
		top := f.Name
		if f.Dir != "" {
			top = f.Dir
			subdirs[f.Dir] = append(subdirs[f.Dir], f.Name)
		}
		if !slices.Contains(tops, top) {
			tops = append(tops, top)
		}
	}
	return tops, subdirs
}

// checkLayout refuses a set that uses one name both as a file and as a
// subdirectory.
func checkLayout(files []File) error {
	_, subdirs := layoutOf(files)
	for _, f := range files {
		if _, ok := subdirs[f.Name]; ok && f.Dir == "" {
			return fmt.Errorf("svidfile: name %q: used both as a file and as a directory", f.Name)
		}
	}
	return nil
}

// sortedKeys returns the subdirectory names in order.
func sortedKeys(subdirs map[string][]string) []string {
	keys := make([]string, 0, len(subdirs))
	for k := range subdirs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// dirHolds reports whether the directory name inside the Writer's root
// holds exactly the entries want (as base names).
func (w *Writer) dirHolds(name string, want []string) (bool, error) {
	entries, err := fs.ReadDir(w.root.FS(), name)
	if err != nil {
		return false, absentIsFalse(err, name)
	}
	if len(entries) != len(want) {
		return false, nil
	}
	for _, e := range entries {
		if !slices.Contains(want, e.Name()) {
			return false, nil
		}
	}
	return true, nil
}

// ensurePlainDirs creates the subdirectories of a plain-mode set that do
// not exist yet; an existing entry must be a real directory, not a
// symlink.
func (w *Writer) ensurePlainDirs(subdirs map[string][]string) error {
	perm := 0o755 &^ w.umask
	for _, dir := range sortedKeys(subdirs) {
		fi, err := w.root.Lstat(dir)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			return fmt.Errorf("svidfile: %q exists and is not a directory", dir)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("svidfile: check directory %q: %w", dir, err)
		}
		if err := w.root.Mkdir(dir, perm); err != nil {
			return fmt.Errorf("svidfile: create directory %q: %w", dir, err)
		}
		if err := w.root.Chmod(dir, perm); err != nil {
			return fmt.Errorf("svidfile: chmod %q: %w", dir, err)
		}
	}
	return nil
}

// removePlainStale removes the regular files of a plain-mode subdirectory
// that the set does not name, then fsyncs the subdirectory.
func (w *Writer) removePlainStale(subdirs map[string][]string) error {
	for _, dir := range sortedKeys(subdirs) {
		entries, err := readDir(w.root, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || slices.Contains(subdirs[dir], e.Name()) {
				continue
			}
			if err := w.root.Remove(dir + "/" + e.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("svidfile: remove stale %q: %w", dir+"/"+e.Name(), err)
			}
		}
		sub, err := w.root.OpenRoot(dir)
		if err != nil {
			return fmt.Errorf("svidfile: open directory %q: %w", dir, err)
		}
		err = syncDir(sub)
		if cerr := sub.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
