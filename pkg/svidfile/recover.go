package svidfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("svidfile: read directory %q: %w", w.dir, err)
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
		if err := os.RemoveAll(filepath.Join(w.dir, name)); err != nil {
			return fmt.Errorf("svidfile: remove stale %q: %w", name, err)
		}
	}
	if w.mode != ModeAtomic || cur == "" {
		return nil
	}
	last, err := loadVersion(filepath.Join(w.dir, cur))
	if err != nil {
		return err
	}
	w.last = last
	return nil
}

// loadVersion reads the regular files of a version directory, sorted by
// name.
func loadVersion(verDir string) ([]File, error) {
	entries, err := os.ReadDir(verDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("svidfile: read version %q: %w", verDir, err)
	}
	var files []File
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(verDir, e.Name())
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("svidfile: stat %q: %w", p, err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("svidfile: read %q: %w", p, err)
		}
		files = append(files, File{Name: e.Name(), Data: data, Mode: fi.Mode().Perm()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}
