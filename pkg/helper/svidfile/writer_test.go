package svidfile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

func TestNewTargetDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, wantErr string
	}{
		{"missing", filepath.Join(tmp, "nope"), "no such file"},
		{"not a directory", file, "not a directory"},
		{"empty", "", "directory is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svidfile.New(tt.dir, svidfile.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New(%q) error = %v, want it to contain %q", tt.dir, err, tt.wantErr)
			}
		})
	}
}

func TestLockExcludesSecondWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := svidfile.New(dir, svidfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svidfile.New(dir, svidfile.Options{Mode: svidfile.ModePlain}); err == nil || !strings.Contains(err.Error(), "locked by another writer") {
		t.Fatalf("second New error = %v, want lock error", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Write(newPair(t).set()); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	mustNew(t, dir, svidfile.Options{})
}

func TestWriteValidatesNames(t *testing.T) {
	w := mustNew(t, t.TempDir(), svidfile.Options{})
	tests := []struct {
		name    string
		files   []svidfile.File
		wantErr string
	}{
		{"no files", nil, "empty file set"},
		{"empty name", []svidfile.File{{Name: "", Mode: 0o600}}, "name is empty"},
		{"slash", []svidfile.File{{Name: "a/b", Mode: 0o600}}, `"a/b"`},
		{"dotdot prefix", []svidfile.File{{Name: "..data", Mode: 0o600}}, `"..data"`},
		{"dotdot", []svidfile.File{{Name: "..", Mode: 0o600}}, `".."`},
		{"dot", []svidfile.File{{Name: ".", Mode: 0o600}}, `"."`},
		{"nul", []svidfile.File{{Name: "a\x00", Mode: 0o600}}, "NUL"},
		{"duplicate", []svidfile.File{{Name: "a", Mode: 0o600}, {Name: "a", Mode: 0o600}}, "given twice"},
		{"zero mode", []svidfile.File{{Name: "a"}}, "mode is 0"},
		{"setuid mode", []svidfile.File{{Name: "a", Mode: os.ModeSetuid | 0o755}}, "bits other than permissions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.Write(tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Write error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	if got := versions(t, w.Dir()); len(got) != 0 {
		t.Fatalf("invalid writes left versions %v", got)
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in      string
		want    svidfile.Mode
		wantErr bool
	}{
		{"", svidfile.ModeAtomic, false},
		{"atomic", svidfile.ModeAtomic, false},
		{"plain", svidfile.ModePlain, false},
		{"fast", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := svidfile.ParseMode(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseMode(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

func TestAtomicLayoutAndModesUnderUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	w := mustNew(t, dir, svidfile.Options{})
	files := newPair(t).set()
	files[1].Mode = 0o644
	files = append(files, svidfile.File{Name: "world.txt", Data: []byte("x"), Mode: 0o666})
	mustWrite(t, w, files, true)
	assertVisible(t, dir, files)
	for _, f := range files {
		target, err := os.Readlink(filepath.Join(dir, f.Name))
		if err != nil || target != "..data/"+f.Name {
			t.Fatalf("%s link = %q, %v; want relative ..data/%s", f.Name, target, err, f.Name)
		}
	}
	target, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil || !versionRE.MatchString(target) {
		t.Fatalf("..data = %q, %v", target, err)
	}
	fi, err := os.Stat(filepath.Join(dir, target))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("version dir mode = %v, %v; want 0755", fi.Mode().Perm(), err)
	}
	if ok, err := w.Intact(); !ok || err != nil {
		t.Fatalf("Intact = %v, %v", ok, err)
	}
}

func TestUnchangedIsNotRewritten(t *testing.T) {
	for _, mode := range []svidfile.Mode{svidfile.ModeAtomic, svidfile.ModePlain} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			w := mustNew(t, dir, svidfile.Options{Mode: mode})
			files := newPair(t).set()
			mustWrite(t, w, files, true)
			before := snapshot(t, dir)
			mustWrite(t, w, files, false)
			if after := snapshot(t, dir); after != before {
				t.Fatalf("unchanged write touched the directory:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// snapshot describes dir's entries by name, inode and mtime.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s:%d:%d;", p, fi.ModTime().UnixNano(), st.Ino)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestChangeWritesNewVersionAndRemovesOld(t *testing.T) {
	dir := t.TempDir()
	w := mustNew(t, dir, svidfile.Options{})
	mustWrite(t, w, newPair(t).set(), true)
	first := versions(t, dir)
	next := newPair(t).set()
	mustWrite(t, w, next, true)
	second := versions(t, dir)
	if len(first) != 1 || len(second) != 1 || first[0] == second[0] {
		t.Fatalf("versions before %v after %v; want one each, different", first, second)
	}
	assertVisible(t, dir, next)
}

func TestTamperedSetIsRewritten(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
	}{
		{"visible link deleted", func(t *testing.T, dir string) { rm(t, filepath.Join(dir, "key.pem")) }},
		{"data link deleted", func(t *testing.T, dir string) { rm(t, filepath.Join(dir, "..data")) }},
		{"content modified", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("evil"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"mode changed", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "key.pem"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"link replaced by file", func(t *testing.T, dir string) {
			rm(t, filepath.Join(dir, "bundle.pem"))
			if err := os.WriteFile(filepath.Join(dir, "bundle.pem"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"extra file in version", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "..data", "extra"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := mustNew(t, dir, svidfile.Options{})
			files := newPair(t).set()
			mustWrite(t, w, files, true)
			tt.tamper(t, dir)
			if ok, err := w.Intact(); ok || err != nil {
				t.Fatalf("Intact after tamper = %v, %v; want false", ok, err)
			}
			repaired, err := w.Repair()
			if err != nil || !repaired {
				t.Fatalf("Repair = %v, %v; want true", repaired, err)
			}
			assertVisible(t, dir, files)
			if ok, err := w.Intact(); !ok || err != nil {
				t.Fatalf("Intact after repair = %v, %v", ok, err)
			}
			mustWrite(t, w, files, false)
			if v := versions(t, dir); len(v) != 1 {
				t.Fatalf("versions after repair = %v", v)
			}
		})
	}
}

func rm(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

func TestDroppedNamesAreUnlinkedUserFilesKept(t *testing.T) {
	dir := t.TempDir()
	w := mustNew(t, dir, svidfile.Options{})
	if err := os.WriteFile(filepath.Join(dir, "user.conf"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "foreign")); err != nil {
		t.Fatal(err)
	}
	files := newPair(t).set()
	mustWrite(t, w, files, true)
	mustWrite(t, w, files[:2], true)
	if _, err := os.Lstat(filepath.Join(dir, "bundle.pem")); !os.IsNotExist(err) {
		t.Fatalf("bundle.pem still present: %v", err)
	}
	for _, name := range []string{"user.conf", "foreign"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s was removed: %v", name, err)
		}
	}
	assertVisible(t, dir, files[:2])
}

func TestReplacesExistingPlainFiles(t *testing.T) {
	dir := t.TempDir()
	// As left by spiffe-helper or by plain mode.
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := mustNew(t, dir, svidfile.Options{})
	files := newPair(t).set()
	mustWrite(t, w, files, true)
	assertVisible(t, dir, files)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := w.Write(append(files, svidfile.File{Name: "d", Mode: 0o644}))
	if err == nil || !strings.Contains(err.Error(), `d" is a directory`) {
		t.Fatalf("writing over a directory: %v", err)
	}
}

func TestNewCleansStaleStateAndPicksUpCurrent(t *testing.T) {
	dir := t.TempDir()
	w := mustNew(t, dir, svidfile.Options{})
	files := newPair(t).set()
	mustWrite(t, w, files, true)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	current := versions(t, dir)[0]
	stale := []string{"..20200101T000000.000000000.deadbeef", "..data_tmp", "..link_tmp", "..tmp-123"}
	if err := os.Mkdir(filepath.Join(dir, stale[0]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stale[0], "cert.pem"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(stale[0], filepath.Join(dir, stale[1])); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/x", filepath.Join(dir, stale[2])); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stale[3]), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	userHidden := filepath.Join(dir, "..user-notes") // not ours: kept
	if err := os.WriteFile(userHidden, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	w2 := mustNew(t, dir, svidfile.Options{})
	for _, name := range stale {
		if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("stale %s not removed: %v", name, err)
		}
	}
	if _, err := os.Lstat(userHidden); err != nil {
		t.Errorf("user file removed: %v", err)
	}
	if v := versions(t, dir); len(v) != 1 || v[0] != current {
		t.Fatalf("versions = %v, want [%s]", v, current)
	}
	if ok, err := w2.Intact(); !ok || err != nil {
		t.Fatalf("Intact after restart = %v, %v", ok, err)
	}
	mustWrite(t, w2, files, false)
}

func TestPlainMode(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	w := mustNew(t, dir, svidfile.Options{Mode: svidfile.ModePlain})
	p := newPair(t)
	files := p.set()
	mustWrite(t, w, files, true)
	assertVisible(t, dir, files)
	for _, f := range files {
		fi, err := os.Lstat(filepath.Join(dir, f.Name))
		if err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("%s is not a regular file: %v", f.Name, err)
		}
	}
	inode := func(name string) uint64 {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	bundleIno := inode("bundle.pem")
	// New key and cert, same bundle: the bundle file is left alone.
	q := newPair(t)
	next := []svidfile.File{
		{Name: "key.pem", Data: q.key, Mode: 0o600},
		{Name: "cert.pem", Data: q.cert, Mode: 0o644},
		files[2],
	}
	mustWrite(t, w, next, true)
	assertVisible(t, dir, next)
	if inode("bundle.pem") != bundleIno {
		t.Fatal("unchanged bundle.pem was rewritten")
	}
	rm(t, filepath.Join(dir, "cert.pem"))
	if ok, err := w.Intact(); ok || err != nil {
		t.Fatalf("Intact = %v, %v; want false", ok, err)
	}
	mustWrite(t, w, next, true)
	assertVisible(t, dir, next)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..tmp") {
			t.Fatalf("temp file left: %s", e.Name())
		}
	}
}
