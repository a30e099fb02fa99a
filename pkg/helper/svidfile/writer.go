package svidfile

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Mode selects how a Writer puts a set of files on disk.
type Mode int

const (
	// ModeAtomic (the default) switches the whole set with one symlink
	// rename, so readers see either the old or the new set.
	ModeAtomic Mode = iota
	// ModePlain replaces each file on its own (temp file, fsync, rename).
	// Files are individually atomic; the set is not.
	ModePlain
)

// String returns the configuration spelling of m ("atomic" or "plain").
func (m Mode) String() string {
	switch m {
	case ModeAtomic:
		return "atomic"
	case ModePlain:
		return "plain"
	default:
		return fmt.Sprintf("Mode(%d)", int(m))
	}
}

// ParseMode converts the configuration spelling ("atomic", "plain"; empty
// means atomic) into a Mode.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "atomic":
		return ModeAtomic, nil
	case "plain":
		return ModePlain, nil
	default:
		return 0, fmt.Errorf("svidfile: unknown write mode %q (want \"atomic\" or \"plain\")", s)
	}
}

// Options configures a Writer.
type Options struct {
	// Mode is ModeAtomic (zero value) or ModePlain.
	Mode Mode
	// Umask holds permission bits cleared from every File's Mode (and from
	// the version directories' 0755), as open(2) clears the process umask.
	// Zero, the default, writes modes exactly; spiffe-helper's modes are
	// subject to the umask, so its drop-in passes ProcessUmask.
	Umask os.FileMode
}

// File is one file of a set: a base name inside the Writer's directory
// (or inside its subdirectory Dir, see below), its full content and its
// permission bits (applied exactly, less Options.Umask, whatever the
// process umask is).
//
// A non-empty Dir puts the file into that subdirectory of the Writer's
// directory, one level only. The subdirectory belongs to the set: in
// atomic mode it lives in the version directory and is visible through one
// symlink "Dir -> ..data/Dir", so its files switch with the rest of the set
// and files the set no longer names are gone with the old version; in
// plain mode the Writer creates it and removes from it every regular file
// the set does not name. Keep nothing else in it.
type File struct {
	// Dir is a subdirectory name, or "" for the Writer's directory.
	Dir  string
	Name string
	Data []byte
	Mode os.FileMode
}

// Writer writes sets of files into one directory. It is safe for concurrent
// use; writes are serialised.
type Writer struct {
	dir   string
	root  *os.Root // dir; every entry is created and opened through it
	mode  Mode
	umask os.FileMode
	lock  *os.File

	mu     sync.Mutex
	last   []File // the set last written or picked up from disk
	closed bool
}

// New opens dir (which must exist) for writing sets of files, takes the
// directory lock and, in atomic mode, removes what an interrupted earlier
// writer left behind and picks up the current set so that an unchanged set
// is not rewritten after a restart.
//
// Every file the Writer creates or opens is reached through an os.Root of
// dir: a symlink planted in dir by someone who can write it never leads
// the Writer (often root) to a file outside dir.
func New(dir string, opts Options) (*Writer, error) {
	if opts.Mode != ModeAtomic && opts.Mode != ModePlain {
		return nil, fmt.Errorf("svidfile: unknown write mode %v", opts.Mode)
	}
	if opts.Umask&^0o777 != 0 {
		return nil, fmt.Errorf("svidfile: umask %#o has bits other than permissions", opts.Umask)
	}
	if dir == "" {
		return nil, errors.New("svidfile: directory is empty")
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("svidfile: target directory %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("svidfile: target %q is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("svidfile: target directory %q: %w", dir, err)
	}
	lock, err := lockDir(root)
	if err != nil {
		return nil, errors.Join(err, root.Close())
	}
	w := &Writer{dir: dir, root: root, mode: opts.Mode, umask: opts.Umask, lock: lock}
	if err := w.recover(); err != nil {
		return nil, errors.Join(err, w.Close())
	}
	return w, nil
}

// Dir returns the directory the Writer writes into.
func (w *Writer) Dir() string { return w.dir }

// Write puts files on disk as one update. It reports changed=false and
// touches nothing when every file already has exactly this content and
// mode on disk (a file deleted or modified behind the Writer's back makes
// the set changed, so it is rewritten). In atomic mode the visible names
// written by an earlier set but absent from files are removed, so files
// must be the complete set for the directory: a helper writing X.509 and
// JWT files into one directory passes all of them in every call.
func (w *Writer) Write(files []File) (changed bool, err error) {
	if err := validate(files); err != nil {
		return false, err
	}
	files, err = applyUmask(files, w.umask)
	if err != nil {
		return false, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false, errors.New("svidfile: writer is closed")
	}
	same, err := w.matches(files)
	if err != nil {
		return false, err
	}
	if same {
		w.last = cloneFiles(files)
		return false, nil
	}
	if w.mode == ModePlain {
		err = w.writePlain(files)
	} else {
		err = w.writeAtomic(files)
	}
	if err != nil {
		return false, err
	}
	w.last = cloneFiles(files)
	return true, nil
}

// Intact reports whether the last written set (or the set found on disk
// when the Writer was created, in atomic mode) is still on disk unchanged.
// With no known set (nothing written yet; plain mode after a restart) it
// reports true.
func (w *Writer) Intact() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		return true, nil
	}
	return w.matches(w.last)
}

// Repair rewrites the last known set when it is no longer intact on disk
// and reports whether it did.
func (w *Writer) Repair() (bool, error) {
	w.mu.Lock()
	last := w.last
	w.mu.Unlock()
	if last == nil {
		return false, nil
	}
	return w.Write(last)
}

// Close releases the directory lock. The files stay on disk. Close is
// idempotent.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	if err := w.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("svidfile: release lock in %q: %w", w.dir, err))
	}
	if err := w.root.Close(); err != nil {
		errs = append(errs, fmt.Errorf("svidfile: close %q: %w", w.dir, err))
	}
	return errors.Join(errs...)
}

func cloneFiles(files []File) []File {
	out := make([]File, len(files))
	for i, f := range files {
		out[i] = File{Dir: f.Dir, Name: f.Name, Data: append([]byte(nil), f.Data...), Mode: f.Mode}
	}
	return out
}
