package svidfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeAtomic writes files into a new version directory, switches "..data"
// to it with one rename, fixes the visible symlinks and removes the
// previous version. A crash at any point leaves "..data" pointing at a
// complete version; leftovers are removed by the next New.
func (w *Writer) writeAtomic(files []File) error {
	ver, err := w.newVersionDir()
	if err != nil {
		return err
	}
	verDir := filepath.Join(w.dir, ver)
	if err := fillVersion(verDir, files); err != nil {
		return errors.Join(err, os.RemoveAll(verDir))
	}
	if err := w.switchData(ver); err != nil {
		return errors.Join(err, os.RemoveAll(verDir))
	}
	// From here on the new set is current; failures below leave it current
	// but possibly with a visible name missing, which Intact reports. One
	// directory fsync makes the switch and the links durable before the
	// previous version is removed, so "..data" never names a removed
	// directory after a power loss.
	for _, f := range files {
		if err := w.ensureLink(f.Name); err != nil {
			return err
		}
	}
	if err := w.removeStaleLinks(files); err != nil {
		return err
	}
	if err := syncDir(w.dir); err != nil {
		return err
	}
	return w.removeOldVersions(ver)
}

// removeOldVersions deletes every version directory except keep: the
// previous one and any orphaned by a crash or by a deleted "..data".
func (w *Writer) removeOldVersions(keep string) error {
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("svidfile: read directory %q: %w", w.dir, err)
	}
	for _, e := range entries {
		if name := e.Name(); e.IsDir() && name != keep && versionRE.MatchString(name) {
			if err := os.RemoveAll(filepath.Join(w.dir, name)); err != nil {
				return fmt.Errorf("svidfile: remove old version %q: %w", name, err)
			}
		}
	}
	return nil
}

// fillVersion writes every file into verDir, then fsyncs the files and the
// directory concurrently: on journaling file systems concurrent fsyncs
// share one journal commit, which makes a set cost about as much as one
// file.
func fillVersion(verDir string, files []File) error {
	handles := make([]*os.File, 0, len(files)+1)
	for _, f := range files {
		h, err := createFile(filepath.Join(verDir, f.Name), f.Data, f.Mode)
		if err != nil {
			return errors.Join(fmt.Errorf("svidfile: write %q: %w", f.Name, err), closeAll(handles))
		}
		handles = append(handles, h)
	}
	d, err := os.Open(verDir)
	if err != nil {
		return errors.Join(fmt.Errorf("svidfile: open version %q: %w", verDir, err), closeAll(handles))
	}
	handles = append(handles, d)
	return errors.Join(syncAll(handles), closeAll(handles))
}

// switchData points "..data" at ver with the symlink-and-rename dance; the
// caller fsyncs the target directory.
func (w *Writer) switchData(ver string) error {
	tmp := filepath.Join(w.dir, dataTmpLink)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("svidfile: remove stale %q: %w", tmp, err)
	}
	if err := os.Symlink(ver, tmp); err != nil {
		return fmt.Errorf("svidfile: create %q: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(w.dir, dataLink)); err != nil {
		return errors.Join(fmt.Errorf("svidfile: switch %q: %w", dataLink, err), os.Remove(tmp))
	}
	return nil
}

// ensureLink makes dir/name the symlink "..data/name", replacing whatever
// other file or symlink is there in one rename (a directory is an error).
func (w *Writer) ensureLink(name string) error {
	p := filepath.Join(w.dir, name)
	want := linkTarget(name)
	if cur, err := os.Readlink(p); err == nil && cur == want {
		return nil
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return fmt.Errorf("svidfile: visible name %q is a directory", p)
	}
	tmp := filepath.Join(w.dir, linkTmp)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("svidfile: remove stale %q: %w", tmp, err)
	}
	if err := os.Symlink(want, tmp); err != nil {
		return fmt.Errorf("svidfile: link %q: %w", name, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return errors.Join(fmt.Errorf("svidfile: link %q: %w", name, err), os.Remove(tmp))
	}
	return nil
}

// removeStaleLinks removes visible symlinks into "..data" whose names are
// not part of files. Regular files and foreign symlinks are never touched.
func (w *Writer) removeStaleLinks(files []File) error {
	keep := make(map[string]bool, len(files))
	for _, f := range files {
		keep[f.Name] = true
	}
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("svidfile: read directory %q: %w", w.dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.Type()&fs.ModeSymlink == 0 || keep[name] || strings.HasPrefix(name, "..") {
			continue
		}
		target, err := os.Readlink(filepath.Join(w.dir, name))
		if err != nil || target != linkTarget(name) {
			continue
		}
		if err := os.Remove(filepath.Join(w.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("svidfile: remove stale link %q: %w", name, err)
		}
	}
	return nil
}
