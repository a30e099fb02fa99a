package svidfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// pendingFile is a fully written, not yet renamed temp file.
type pendingFile struct {
	tmp  *os.File
	name string
}

// writePlain replaces each changed file on its own: all changed files are
// written to hidden temp files and fsynced together, then renamed over
// their names in the order given (svidformat puts the key first), then the
// directory is fsynced. Each file is replaced atomically; the set is not:
// between two renames a reader can see a new key beside the old
// certificate.
func (w *Writer) writePlain(files []File) error {
	var todo []pendingFile
	for _, f := range files {
		same, err := fileMatches(filepath.Join(w.dir, f.Name), f)
		if err == nil && !same {
			var tmp *os.File
			if tmp, err = createTemp(w.dir, f); err == nil {
				todo = append(todo, pendingFile{tmp: tmp, name: f.Name})
			}
		}
		if err != nil {
			return errors.Join(fmt.Errorf("svidfile: write %q: %w", f.Name, err), closeAll(tempHandles(todo)), removeTemps(todo))
		}
	}
	hs := tempHandles(todo)
	if err := errors.Join(syncAll(hs), closeAll(hs)); err != nil {
		return errors.Join(err, removeTemps(todo))
	}
	for i, p := range todo {
		if err := os.Rename(p.tmp.Name(), filepath.Join(w.dir, p.name)); err != nil {
			return errors.Join(fmt.Errorf("svidfile: write %q: %w", p.name, err), removeTemps(todo[i:]))
		}
	}
	return syncDir(w.dir)
}

func tempHandles(todo []pendingFile) []*os.File {
	hs := make([]*os.File, len(todo))
	for i, p := range todo {
		hs[i] = p.tmp
	}
	return hs
}

// removeTemps removes temp files that were not renamed.
func removeTemps(todo []pendingFile) error {
	var errs []error
	for _, p := range todo {
		errs = append(errs, os.Remove(p.tmp.Name()))
	}
	return errors.Join(errs...)
}

// createTemp writes f's content with exactly f's mode into a new hidden
// temp file in dir; the caller fsyncs, closes and renames it.
func createTemp(dir string, f File) (*os.File, error) {
	tmp, err := os.CreateTemp(dir, plainTmp+"*")
	if err != nil {
		return nil, err
	}
	err = tmp.Chmod(f.Mode)
	if err == nil {
		_, err = tmp.Write(f.Data)
	}
	if err != nil {
		return nil, errors.Join(err, tmp.Close(), os.Remove(tmp.Name()))
	}
	return tmp, nil
}
