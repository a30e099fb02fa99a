package filelock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/filelock"
)

// TestLock plants what a user who can write the directory could plant,
// and checks that Lock neither follows it nor touches the target; a
// second Lock of a held file reports ErrLocked with the file still open.
func TestLock(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(t *testing.T, dir, outside string)
		wantErr string
	}{
		{name: "new file", plant: func(*testing.T, string, string) {}},
		{name: "existing file", plant: func(t *testing.T, dir, _ string) {
			write(t, filepath.Join(dir, "l"), "old")
		}},
		{name: "symlink to a file outside", wantErr: "symlink", plant: func(t *testing.T, dir, outside string) {
			write(t, outside, "keep")
			symlink(t, outside, filepath.Join(dir, "l"))
		}},
		{name: "dangling symlink", wantErr: "symlink", plant: func(t *testing.T, dir, outside string) {
			symlink(t, outside, filepath.Join(dir, "l"))
		}},
		{name: "directory", wantErr: "is a directory", plant: func(t *testing.T, dir, _ string) {
			if err := os.Mkdir(filepath.Join(dir, "l"), 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "fifo", wantErr: "not a regular file", plant: func(t *testing.T, dir, _ string) {
			if err := mkfifo(filepath.Join(dir, "l")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, other := t.TempDir(), t.TempDir()
			outside := filepath.Join(other, "target")
			tt.plant(t, dir, outside)
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			f, err := filelock.Lock(root, "l")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Lock: error %v, want one containing %q", err, tt.wantErr)
				}
				if f != nil {
					t.Fatal("Lock returned a file with its error")
				}
				if b, err := os.ReadFile(outside); err == nil && string(b) != "keep" {
					t.Fatalf("the symlink's target was changed to %q", b)
				}
				if _, err := os.Stat(outside); tt.name == "dangling symlink" && err == nil {
					t.Fatal("Lock created the dangling symlink's target")
				}
				return
			}
			if err != nil {
				t.Fatalf("Lock: %v", err)
			}
			defer f.Close()
			fi, err := os.Stat(filepath.Join(dir, "l"))
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "new file" && fi.Mode().Perm() != 0o600 {
				t.Fatalf("new lock file has mode %v, want 0600", fi.Mode().Perm())
			}
			g, err := filelock.Lock(root, "l")
			if !errors.Is(err, filelock.ErrLocked) || g == nil {
				t.Fatalf("second Lock: file %v, error %v; want an open file and ErrLocked", g, err)
			}
			g.Close()
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			h, err := filelock.Lock(root, "l")
			if err != nil {
				t.Fatalf("Lock after the holder closed: %v", err)
			}
			h.Close()
		})
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}
