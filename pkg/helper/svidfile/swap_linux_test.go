package svidfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
	"golang.org/x/sys/unix"
)

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
