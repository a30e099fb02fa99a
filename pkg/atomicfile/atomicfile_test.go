package atomicfile_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/atomicfile"
)

// TestWriteBytes: a new file and a replaced one get exactly the content
// and mode asked for, whatever the old file's mode, and no temporary file
// is left.
func TestWriteBytes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		old     fs.FileMode // 0: no file before
		mode    fs.FileMode
		content string
	}{
		{name: "new private", mode: 0o600, content: "key"},
		{name: "new public", mode: 0o644, content: "bundle"},
		{name: "replaces a looser file", old: 0o666, mode: 0o600, content: "new key"},
		{name: "replaces a stricter file", old: 0o600, mode: 0o644, content: "new bundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.old != 0 {
				if err := os.WriteFile(path, []byte("old content, longer than the new"), tc.old); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.old); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			if err := atomicfile.WriteBytes(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatalf("WriteBytes: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != tc.content {
				t.Fatalf("content = %q, %v; want %q", got, err, tc.content)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.mode {
				t.Errorf("mode = %v, want %v", fi.Mode().Perm(), tc.mode)
			}
			onlyFile(t, dir, "f")
		})
	}
}

// TestWriteFailureKeepsOld: when writing fails the old file is untouched,
// the temporary file is removed, and the error names the path and wraps
// the writer's error.
func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		if _, err := io.WriteString(w, "partial"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Write = %v, want an error naming %s wrapping %v", err, path, boom)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("content after a failed write = %q, want %q", got, "old")
	}
	onlyFile(t, dir, "f")
}

// TestWriteMissingDirectory: a directory that does not exist is an error
// naming the path; nothing is created.
func TestWriteMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "f")
	err := atomicfile.WriteBytes(path, []byte("x"), 0o600)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteBytes = %v, want an error naming %s", err, path)
	}
}

// TestTemporaryFileIsPrivate: while the content is being written, the
// temporary file is 0600 even for a 0644 target.
func TestTemporaryFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bundle.pem")
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		f, ok := w.(*os.File)
		if !ok {
			t.Fatalf("writer is %T, want the temporary *os.File", w)
		}
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("temporary file mode = %v while filling, want 0600", fi.Mode().Perm())
		}
		_, err = io.WriteString(w, "bundle")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s (no temporary file left)", names, name)
	}
}
