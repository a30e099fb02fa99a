package svidfile_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// bundleSet is a pair plus one file per trust domain in the subdirectory
// "bundles".
func bundleSet(p pair, tds ...string) []svidfile.File {
	files := p.set()
	for _, td := range tds {
		files = append(files, svidfile.File{Dir: "bundles", Name: td + ".pem", Data: []byte("roots of " + td), Mode: 0o644})
	}
	return files
}

// listDir returns the names in dir, following a symlink to it.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteSubdirectory checks that files with a Dir are written into that
// subdirectory with the rest of the set, that a later set withdraws the
// files it no longer names, and that an unchanged set is not rewritten,
// after a restart too, in both modes.
func TestWriteSubdirectory(t *testing.T) {
	for _, mode := range []svidfile.Mode{svidfile.ModeAtomic, svidfile.ModePlain} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			w := mustNew(t, dir, svidfile.Options{Mode: mode})
			p := newPair(t)

			first := bundleSet(p, "a.test", "b.test")
			mustWrite(t, w, first, true)
			assertVisible(t, dir, first)
			mustWrite(t, w, first, false)

			second := bundleSet(p, "a.test", "c.test")
			mustWrite(t, w, second, true)
			assertVisible(t, dir, second)
			if got := listDir(t, filepath.Join(dir, "bundles")); !slices.Equal(got, []string{"a.test.pem", "c.test.pem"}) {
				t.Fatalf("bundles = %v, want a.test.pem and c.test.pem only", got)
			}
			if mode == svidfile.ModeAtomic {
				if target, err := os.Readlink(filepath.Join(dir, "bundles")); err != nil || target != "..data/bundles" {
					t.Fatalf("bundles is %q, %v; want the symlink ..data/bundles", target, err)
				}
			}

			// A stray file in the subdirectory makes the set changed.
			stray := filepath.Join(dir, "bundles", "stray.pem")
			if err := os.WriteFile(stray, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if ok, err := w.Intact(); err != nil || ok {
				t.Fatalf("Intact = %v, %v with a stray file in bundles, want false", ok, err)
			}
			mustWrite(t, w, second, true)
			if _, err := os.Stat(stray); !os.IsNotExist(err) {
				t.Fatalf("stray file still there after a write: %v", err)
			}

			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			again := mustNew(t, dir, svidfile.Options{Mode: mode})
			mustWrite(t, again, second, false)

			// A set without the subdirectory withdraws it in atomic mode;
			// plain mode leaves files it no longer writes alone, as it
			// does for plain names.
			mustWrite(t, again, p.set(), mode == svidfile.ModeAtomic)
			if mode == svidfile.ModeAtomic {
				if _, err := os.Lstat(filepath.Join(dir, "bundles")); !os.IsNotExist(err) {
					t.Fatalf("bundles still visible after a set without it: %v", err)
				}
			}
		})
	}
}

func TestWriteValidatesSubdirectories(t *testing.T) {
	w := mustNew(t, t.TempDir(), svidfile.Options{})
	tests := []struct {
		name    string
		files   []svidfile.File
		wantErr string
	}{
		{"nested", []svidfile.File{{Dir: "a/b", Name: "c", Mode: 0o644}}, "path separator"},
		{"reserved", []svidfile.File{{Dir: "..data", Name: "c", Mode: 0o644}}, "reserved"},
		{"file and directory", []svidfile.File{{Name: "b", Mode: 0o644}, {Dir: "b", Name: "c", Mode: 0o644}}, "both as a file and as a directory"},
		{"duplicate", []svidfile.File{{Dir: "b", Name: "c", Mode: 0o644}, {Dir: "b", Name: "c", Mode: 0o644}}, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.Write(tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Write error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
