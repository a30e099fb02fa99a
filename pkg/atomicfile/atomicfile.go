// Package atomicfile replaces files so that a reader sees the old content
// or the new, never a mix, and never the new content at a looser mode than
// asked for; the replacement survives a crash. The server's CA keys, the
// agent's SVID store, `svidkit-agent api fetch x509 -write` and the profile
// writer share it.
package atomicfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with what write writes, at mode: into a temporary
// file in path's directory (created 0600, so only the daemon's user can
// read it while it fills), set to mode, synced, renamed over path; then the
// directory is synced so that the rename is durable. On any error the
// temporary file is removed and path is left as it was. The error names
// path.
func Write(path string, mode fs.FileMode, write func(io.Writer) error) error {
	if err := replace(path, mode, write); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteBytes replaces path with data at mode, as Write does.
func WriteBytes(path string, data []byte, mode fs.FileMode) error {
	return Write(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func replace(path string, mode fs.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = f.Close() // may be closed already; the first error is the one to return
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	renamed = true
	return syncDir(dir)
}

// syncDir fsyncs dir so that a rename inside it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
