package svidfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// TestPlantedLockSymlinkIsRefused is finding 8 of issue 10: whoever can
// write cert_dir plants "..lock" as a symlink to a path outside it, and the
// (root) writer used to create that file when it took its lock.
func TestPlantedLockSymlinkIsRefused(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name   string
		target func(dir string) string // the symlink's target
	}{
		{"outside, dangling", func(string) string { return filepath.Join(outside, "created-by-root") }},
		{"outside, existing", func(string) string {
			p := filepath.Join(outside, "existing")
			if err := os.WriteFile(p, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"inside, dangling", func(string) string { return "planted" }},
		{"inside, existing", func(dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "user.txt"), []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			return "user.txt"
		}},
	}
	for _, mode := range []svidfile.Mode{svidfile.ModeAtomic, svidfile.ModePlain} {
		for _, tt := range tests {
			t.Run(mode.String()+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				target := tt.target(dir)
				if err := os.Symlink(target, filepath.Join(dir, "..lock")); err != nil {
					t.Fatal(err)
				}
				w, err := svidfile.New(dir, svidfile.Options{Mode: mode})
				if err == nil {
					_ = w.Close()
					t.Fatalf("New succeeded with ..lock a symlink to %q", target)
				}
				if !strings.Contains(err.Error(), filepath.Join(dir, "..lock")) {
					t.Fatalf("New error = %v, want it to name the lock file", err)
				}
				if !filepath.IsAbs(target) {
					target = filepath.Join(dir, target)
				}
				if data, err := os.ReadFile(target); err == nil && string(data) != "keep" {
					t.Fatalf("symlink target %s was created or changed: %q", target, data)
				} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestPlantedTempSymlinksAreNotFollowed plants symlinks to an outside
// directory and to a missing outside file at every predictable name the
// writer uses for its own entries; the writer must write the set without
// creating, changing or removing anything outside its directory.
func TestPlantedTempSymlinksAreNotFollowed(t *testing.T) {
	for _, mode := range []svidfile.Mode{svidfile.ModeAtomic, svidfile.ModePlain} {
		for _, name := range []string{"..data_tmp", "..link_tmp", "..tmp-1"} {
			for _, target := range []string{"victim", "missing"} {
				t.Run(mode.String()+"/"+name+"/"+target, func(t *testing.T) {
					dir, outside := t.TempDir(), t.TempDir()
					keep := filepath.Join(outside, "victim", "keep")
					if err := os.Mkdir(filepath.Dir(keep), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(keep, []byte("keep"), 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink(filepath.Join(outside, target), filepath.Join(dir, name)); err != nil {
						t.Fatal(err)
					}
					w := mustNew(t, dir, svidfile.Options{Mode: mode})
					files := newPair(t).set()
					mustWrite(t, w, files, true)
					assertVisible(t, dir, files)
					var found []string
					err := filepath.WalkDir(outside, func(p string, _ fs.DirEntry, err error) error {
						found = append(found, p)
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					want := []string{outside, filepath.Dir(keep), keep}
					if strings.Join(found, "\n") != strings.Join(want, "\n") {
						t.Fatalf("outside the directory: %q, want %q", found, want)
					}
				})
			}
		}
	}
}
