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
	if err := w.fillVersion(ver, files); err != nil {
		return errors.Join(err, w.root.RemoveAll(ver))
	}
	if err := w.switchData(ver); err != nil {
		return errors.Join(err, w.root.RemoveAll(ver))
	}
	// From here on the new set is current; failures below leave it current
	// but possibly with a visible name missing, which Intact reports. One
	// directory fsync makes the switch and the links durable before the
	// previous version is removed, so "..data" never names a removed
	// directory after a power loss.
	tops, _ := layoutOf(files)
	for _, name := range tops {
		if err := w.ensureLink(name); err != nil {
			return err
		}
	}
	if err := w.removeStaleLinks(tops); err != nil {
		return err
	}
	if err := syncDir(w.root); err != nil {
		return err
	}
	return w.removeOldVersions(ver)
}

// removeOldVersions deletes every version directory except keep: the
// previous one and any orphaned by a crash or by a deleted "..data".
func (w *Writer) removeOldVersions(keep string) error {
	entries, err := readDir(w.root, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if name := e.Name(); e.IsDir() && name != keep && versionRE.MatchString(name) {
			if err := w.root.RemoveAll(name); err != nil {
				return fmt.Errorf("svidfile: remove old version %q: %w", name, err)
			}
		}
	}
	return nil
}

// fillVersion writes every file into the version directory ver, then
// fsyncs the files and the directory concurrently: on journaling file
// systems concurrent fsyncs share one journal commit, which makes a set
// cost about as much as one file. The directory is opened once as a Root,
// so that replacing it with a symlink cannot redirect the files.
func (w *Writer) fillVersion(ver string, files []File) error {
	vr, err := w.root.OpenRoot(ver)
	if err != nil {
		return fmt.Errorf("svidfile: open version %q: %w", filepath.Join(w.dir, ver), err)
	}
	defer vr.Close()
	_, subdirs := layoutOf(files)
	perm := 0o755 &^ w.umask
	for _, dir := range sortedKeys(subdirs) {
		if err := vr.Mkdir(dir, perm); err != nil {
			return fmt.Errorf("svidfile: create %q: %w", dir, err)
		}
		if err := vr.Chmod(dir, perm); err != nil { // the process umask must not matter
			return fmt.Errorf("svidfile: chmod %q: %w", dir, err)
		}
	}
	handles := make([]*os.File, 0, len(files)+1+len(subdirs))
	for _, f := range files {
		h, err := createFile(vr, f.path(), f.Data, f.Mode)
		if err != nil {
			return errors.Join(fmt.Errorf("svidfile: write %q: %w", f.path(), err), closeAll(handles))
		}
		handles = append(handles, h)
	}
	for _, dir := range append(sortedKeys(subdirs), ".") {
		d, err := vr.Open(dir)
		if err != nil {
			return errors.Join(fmt.Errorf("svidfile: open %q in version %q: %w", dir, vr.Name(), err), closeAll(handles))
		}
		handles = append(handles, d)
	}
	return errors.Join(syncAll(handles), closeAll(handles))
}

// switchData points "..data" at ver with the symlink-and-rename dance; the
// caller fsyncs the target directory.
func (w *Writer) switchData(ver string) error {
	tmp := filepath.Join(w.dir, dataTmpLink)
	if err := w.root.Remove(dataTmpLink); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("svidfile: remove stale %q: %w", tmp, err)
	}
	if err := w.root.Symlink(ver, dataTmpLink); err != nil {
		return fmt.Errorf("svidfile: create %q: %w", tmp, err)
	}
	if err := w.root.Rename(dataTmpLink, dataLink); err != nil {
		return errors.Join(fmt.Errorf("svidfile: switch %q: %w", dataLink, err), w.root.Remove(dataTmpLink))
	}
	return nil
}

// ensureLink makes dir/name the symlink "..data/name", replacing whatever
// other file or symlink is there in one rename (a directory is an error).
func (w *Writer) ensureLink(name string) error {
	p := filepath.Join(w.dir, name)
	want := linkTarget(name)
	if cur, err := w.root.Readlink(name); err == nil && cur == want {
		return nil
	}
	if fi, err := w.root.Lstat(name); err == nil && fi.IsDir() {
		return fmt.Errorf("svidfile: visible name %q is a directory", p)
	}
	tmp := filepath.Join(w.dir, linkTmp)
	if err := w.root.Remove(linkTmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("svidfile: remove stale %q: %w", tmp, err)
	}
	if err := w.root.Symlink(want, linkTmp); err != nil {
		return fmt.Errorf("svidfile: link %q: %w", name, err)
	}
	if err := w.root.Rename(linkTmp, name); err != nil {
		return errors.Join(fmt.Errorf("svidfile: link %q: %w", name, err), w.root.Remove(linkTmp))
	}
	return nil
}

// removeStaleLinks removes visible symlinks into "..data" whose names are
// not in tops. Regular files and foreign symlinks are never touched.
func (w *Writer) removeStaleLinks(tops []string) error {
	keep := make(map[string]bool, len(tops))
	for _, name := range tops {
		keep[name] = true
	}
	entries, err := readDir(w.root, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.Type()&fs.ModeSymlink == 0 || keep[name] || strings.HasPrefix(name, "..") {
			continue
		}
		target, err := w.root.Readlink(name)
		if err != nil || target != linkTarget(name) {
			continue
		}
		if err := w.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("svidfile: remove stale link %q: %w", name, err)
		}
	}
	return nil
}
