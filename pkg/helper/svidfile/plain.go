package svidfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// pendingFile is a fully written, not yet renamed temp file.
type pendingFile struct {
	tmp     *os.File
	tmpName string // base name of tmp
	name    string
}

// writePlain replaces each changed file on its own: all changed files are
// written to hidden temp files and fsynced together, then renamed over
// their names in the order given (svidformat puts the key first), then the
// directory is fsynced. Each file is replaced atomically; the set is not:
// between two renames a reader can see a new key beside the old
// certificate.
func (w *Writer) writePlain(files []File) error {
	_, subdirs := layoutOf(files)
	if err := w.ensurePlainDirs(subdirs); err != nil {
		return err
	}
	var todo []pendingFile
	for _, f := range files {
		same, err := fileMatches(w.root, f.path(), f)
		if err == nil && !same {
			var p pendingFile
			if p, err = createTemp(w.root, f); err == nil {
				todo = append(todo, p)
			}
		}
		if err != nil {
			return errors.Join(fmt.Errorf("svidfile: write %q: %w", f.path(), err), closeAll(tempHandles(todo)), w.removeTemps(todo))
		}
	}
	hs := tempHandles(todo)
	if err := errors.Join(syncAll(hs), closeAll(hs)); err != nil {
		return errors.Join(err, w.removeTemps(todo))
	}
	for i, p := range todo {
		if err := w.root.Rename(p.tmpName, p.name); err != nil {
			return errors.Join(fmt.Errorf("svidfile: write %q: %w", p.name, err), w.removeTemps(todo[i:]))
		}
	}
	if err := w.removePlainStale(subdirs); err != nil {
		return err
	}
	return syncDir(w.root)
}

func tempHandles(todo []pendingFile) []*os.File {
	hs := make([]*os.File, len(todo))
	for i, p := range todo {
		hs[i] = p.tmp
	}
	return hs
}

// removeTemps removes temp files that were not renamed.
func (w *Writer) removeTemps(todo []pendingFile) error {
	var errs []error
	for _, p := range todo {
		errs = append(errs, w.root.Remove(p.tmpName))
	}
	return errors.Join(errs...)
}

// createTemp writes f's content with exactly f's mode into a new hidden
// temp file with a random name inside root (created with O_EXCL, which
// never follows a symlink); the caller fsyncs, closes and renames it.
func createTemp(root *os.Root, f File) (pendingFile, error) {
	for range 10 {
		var rnd [8]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return pendingFile{}, fmt.Errorf("random temp name: %w", err)
		}
		name := plainTmp + hex.EncodeToString(rnd[:])
		tmp, err := createFile(root, name, f.Data, f.Mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			// createFile closed the file if it got that far; remove it.
			if rerr := root.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
			return pendingFile{}, err
		}
		return pendingFile{tmp: tmp, tmpName: name, name: f.path()}, nil
	}
	return pendingFile{}, errors.New("could not create a unique temp file")
}
