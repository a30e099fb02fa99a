package svidfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"
)

// Names of the Writer's hidden entries in the target directory. All start
// with ".." so that they can never collide with a valid file name.
const (
	dataLink    = "..data"
	dataTmpLink = "..data_tmp"
	linkTmp     = "..link_tmp"
	plainTmp    = "..tmp-"
)

// versionRE matches the hidden version directories the Writer creates:
// "..<UTC timestamp>.<8 hex digits>".
var versionRE = regexp.MustCompile(`^\.\.\d{8}T\d{6}\.\d{9}\.[0-9a-f]{8}$`)

// linkTarget is the relative target of the visible symlink for name.
func linkTarget(name string) string { return dataLink + "/" + name }

// currentVersion returns the version directory "..data" points to, or ""
// when there is none (first write, or "..data" is not ours).
func (w *Writer) currentVersion() (string, error) {
	target, err := w.root.Readlink(dataLink)
	if err != nil {
		return "", absentIsFalse(err, dataLink)
	}
	if !versionRE.MatchString(target) {
		return "", nil
	}
	return target, nil
}

// newVersionDir creates an empty version directory, world-traversable
// unless the umask says otherwise, and returns its base name. File modes
// inside protect the key.
func (w *Writer) newVersionDir() (string, error) {
	perm := 0o755 &^ w.umask
	for range 10 {
		var rnd [4]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return "", fmt.Errorf("svidfile: random version name: %w", err)
		}
		name := ".." + time.Now().UTC().Format("20060102T150405.000000000") + "." + hex.EncodeToString(rnd[:])
		p := filepath.Join(w.dir, name)
		err := w.root.Mkdir(name, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("svidfile: create version directory %q: %w", p, err)
		}
		if err := w.root.Chmod(name, perm); err != nil { // the process umask must not matter
			return "", errors.Join(fmt.Errorf("svidfile: chmod %q: %w", p, err), w.root.Remove(name))
		}
		return name, nil
	}
	return "", fmt.Errorf("svidfile: could not create a unique version directory in %q", w.dir)
}

// createFile creates name inside root (it must not exist; O_EXCL never
// follows a symlink, and root refuses a path that leaves it) with exactly
// mode and writes data; the caller fsyncs and closes the returned file.
func createFile(root *os.Root, name string, data []byte, mode os.FileMode) (*os.File, error) {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return nil, err
	}
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}

// syncDir fsyncs the directory of root so that entries created or renamed
// in it are durable.
func syncDir(root *os.Root) error {
	dir := root.Name()
	d, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("svidfile: open directory %q for sync: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("svidfile: sync directory %q: %w", dir, err)
	}
	return nil
}

// syncAll fsyncs the files concurrently: on journaling file systems
// concurrent fsyncs share one journal commit.
func syncAll(handles []*os.File) error {
	errs := make([]error, len(handles))
	var wg sync.WaitGroup
	for i, h := range handles {
		wg.Go(func() {
			if err := h.Sync(); err != nil {
				errs[i] = fmt.Errorf("svidfile: sync %q: %w", filepath.Base(h.Name()), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readDir returns the entries of the directory name inside root, sorted by
// name.
func readDir(root *os.Root, name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(root.FS(), name)
	if err != nil {
		return nil, fmt.Errorf("svidfile: read directory %q: %w", filepath.Join(root.Name(), name), err)
	}
	return entries, nil
}

// closeAll closes every handle and joins the errors.
func closeAll(handles []*os.File) error {
	var errs []error
	for _, h := range handles {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}
