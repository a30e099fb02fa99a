package svidfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/svidkit/svidkit/pkg/svidfile"
	"golang.org/x/sys/unix"
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

// TestPlantedTempSymlinksAreNotFollowed plants symlinks to outside files at
// every predictable name the writer uses for its own entries; the writer
// must write the set without creating or changing anything outside its
// directory.
func TestPlantedTempSymlinksAreNotFollowed(t *testing.T) {
	for _, mode := range []svidfile.Mode{svidfile.ModeAtomic, svidfile.ModePlain} {
		for _, name := range []string{"..data_tmp", "..link_tmp", "..tmp-1"} {
			t.Run(mode.String()+"/"+name, func(t *testing.T) {
				dir, outside := t.TempDir(), t.TempDir()
				target := filepath.Join(outside, "target")
				if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
				w := mustNew(t, dir, svidfile.Options{Mode: mode})
				files := newPair(t).set()
				mustWrite(t, w, files, true)
				assertVisible(t, dir, files)
				entries, err := os.ReadDir(outside)
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != 0 {
					t.Fatalf("writer created %q outside its directory", entries[0].Name())
				}
			})
		}
	}
}

// TestSwappedVersionDirIsNotFollowed races the writer like an attacker who
// can write cert_dir: an inotify watch sees each new version directory,
// renames it away and puts a symlink to an outside directory in its place,
// so that the files of the set would be created there. Whatever the
// interleaving, nothing may appear outside; writes may fail.
func TestSwappedVersionDirIsNotFollowed(t *testing.T) {
	dir, outside := memDir(t), t.TempDir()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	events := os.NewFile(uintptr(fd), "inotify") // Close unblocks its Read
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_ONLYDIR); err != nil {
		t.Fatal(errors.Join(err, events.Close()))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		swapVersionDirs(events, dir, outside)
	}()
	w := mustNew(t, dir, svidfile.Options{})
	p := newPair(t)
	for i := range 300 {
		files := p.set()
		files[2].Data = []byte(strconv.Itoa(i))
		_, _ = w.Write(files)
		if entries, _ := os.ReadDir(outside); len(entries) > 0 {
			t.Fatalf("write %d created %q outside the directory", i, entries[0].Name())
		}
	}
	_ = events.Close() // ends the attacker's Read
	<-done
}

// swapVersionDirs reads inotify events until events is closed and
// replaces every new version directory in dir with a symlink to outside.
func swapVersionDirs(events *os.File, dir, outside string) {
	buf := make([]byte, 64*1024)
	for n := 0; ; n++ {
		got, err := events.Read(buf)
		if err != nil || got <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= got; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if !versionRE.MatchString(name) {
				continue
			}
			p := filepath.Join(dir, name)
			if os.Rename(p, filepath.Join(dir, "moved-"+strconv.Itoa(n))) == nil {
				_ = os.Symlink(outside, p)
			}
		}
	}
}
