package svidfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// recover removes what an interrupted writer left behind (version
// directories other than the current one, temporary links and temp files)
// and, in atomic mode, loads the current set as the last known one.
func (w *Writer) recover() error {
	cur, err := w.currentVersion()
	if err != nil {
		return err
	}
	entries, err := readDir(w.root, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		var stale bool
		switch {
		case name == dataTmpLink || name == linkTmp:
			stale = true
		case strings.HasPrefix(name, plainTmp):
			stale = e.Type().IsRegular()
		case versionRE.MatchString(name):
			stale = e.IsDir() && name != cur
		}
		if !stale {
			continue
		}
		if err := w.root.RemoveAll(name); err != nil {
			return fmt.Errorf("svidfile: remove stale %q: %w", name, err)
		}
	}
	if w.mode != ModeAtomic || cur == "" {
		return nil
	}
	last, err := loadVersion(w.root, cur)
	if err != nil {
		return err
	}
	w.last = last
	return nil
}

// loadVersion reads the regular files of the version directory ver inside
// root, and those of its subdirectories (with Dir set), sorted by path.
func loadVersion(root *os.Root, ver string) ([]File, error) {
	files, err := loadFiles(root, ver, "")
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path() < files[j].path() })
	return files, nil
}

// loadFiles reads the regular files of ver/sub (sub "" for ver itself),
// named relative to ver, descending one level from ver.
func loadFiles(root *os.Root, ver, sub string) ([]File, error) {
	entries, err := readDir(root, path.Join(ver, sub))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var files []File
	for _, e := range entries {
		if e.IsDir() && sub == "" {
			more, err := loadFiles(root, ver, e.Name())
			if err != nil {
				return nil, err
			}
			files = append(files, more...)
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		p := path.Join(ver, sub, e.Name())
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("svidfile: stat %q: %w", p, err)
		}
		data, err := root.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("svidfile: read %q: %w", p, err)
		}
		files = append(files, File{Dir: sub, Name: e.Name(), Data: data, Mode: fi.Mode().Perm()})
	}
	return files, nil
}
