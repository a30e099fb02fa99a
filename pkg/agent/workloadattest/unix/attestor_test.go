package unix_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/fakeproc"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest/unix"
	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

func has(s selector.Set, value string) bool {
	return s.Contains(selector.Selector{Type: unix.SelectorType, Value: value})
}

func values(s selector.Set, prefix string) []string {
	var out []string
	for _, sel := range s {
		if v, ok := cutPrefix(sel.Value, prefix); ok && sel.Type == unix.SelectorType {
			out = append(out, v)
		}
	}
	return out
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

func sha256File(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// self returns a handle on this process, and its uid and gid.
func self(tb testing.TB) (p *procid.Process, uid, gid uint32) {
	tb.Helper()
	p, err := procid.OpenPID("/proc", int32(os.Getpid()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p, uint32(os.Getuid()), uint32(os.Getgid())
}

func TestAttestSelf(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, uid, gid := self(t)
	sels, err := unix.New(unix.Config{}).Attest(context.Background(), p, uid, gid)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}

	want := []string{
		"uid:" + strconv.Itoa(os.Getuid()),
		"gid:" + strconv.Itoa(os.Getgid()),
		"path:" + exe,
		"sha256:" + sha256File(t, exe),
	}
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		want = append(want, "user:"+u.Username)
	}
	if g, err := user.LookupGroupId(strconv.Itoa(os.Getgid())); err == nil {
		want = append(want, "group:"+g.Name)
	}
	for _, w := range want {
		t.Run(w, func(t *testing.T) {
			if !has(sels, w) {
				t.Errorf("selector unix:%s missing from %v", w, sels.Strings())
			}
		})
	}
	t.Run("supplementary groups", func(t *testing.T) {
		groups, err := os.Getgroups()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, g := range groups {
			want = append(want, strconv.Itoa(g))
		}
		slices.Sort(want)
		want = slices.Compact(want)
		got := values(sels, "supplementary_gid:")
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("supplementary gids = %v, want %v", got, want)
		}
	})
}

// fakeProc builds <dir>/proc/<pid>/{status,exe} with exe linking to a
// binary holding content.
type fakeProc struct {
	root string
	bin  string
}

func newFakeProc(t *testing.T, pid int, groups string, content []byte) fakeProc {
	t.Helper()
	dir := t.TempDir()
	fp := fakeProc{root: filepath.Join(dir, "proc"), bin: filepath.Join(dir, "bin", "app")}
	pdir := filepath.Join(fp.root, strconv.Itoa(pid))
	for _, d := range []string{pdir, filepath.Dir(fp.bin)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	status := "Name:\tapp\nUid:\t1\t1\t1\t1\nGroups:\t" + groups + "\nVmRSS:\t1 kB\n"
	if err := os.WriteFile(filepath.Join(pdir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fp.bin, content, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fp.bin, filepath.Join(pdir, "exe")); err != nil {
		t.Fatal(err)
	}
	return fp
}

func TestAttestFakeProc(t *testing.T) {
	content := []byte("#!/bin/true\n")
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])

	tests := []struct {
		name    string
		cfg     unix.Config
		groups  string
		pid     int32
		want    []string
		notWant []string
		wantErr bool
	}{
		{
			name:   "all selectors",
			groups: "10 20 ",
			pid:    42,
			want:   []string{"uid:4242", "gid:4343", "supplementary_gid:10", "supplementary_gid:20", "sha256:" + digest},
		},
		{
			name:    "no supplementary groups",
			groups:  "",
			pid:     42,
			want:    []string{"uid:4242", "gid:4343"},
			notWant: []string{"supplementary_gid:"},
		},
		{
			name:    "workload path disabled",
			cfg:     unix.Config{DisableWorkloadPath: true},
			groups:  "10",
			pid:     42,
			want:    []string{"uid:4242", "supplementary_gid:10"},
			notWant: []string{"path:", "sha256:"},
		},
		{
			name:    "binary over the hash size limit",
			cfg:     unix.Config{HashSizeLimit: 4},
			pid:     42,
			want:    []string{"uid:4242"},
			notWant: []string{"sha256:"},
		},
		{name: "process gone", pid: 43, wantErr: true},
		{name: "bad groups line", groups: "ten", pid: 42, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := newFakeProc(t, 42, tt.groups, content)
			cfg := tt.cfg
			cfg.ProcRoot = fp.root
			sels, err := unix.New(cfg).Attest(context.Background(), fakeproc.Open(t, fp.root, tt.pid), 4242, 4343)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Attest succeeded with %v, want error", sels.Strings())
				}
				return
			}
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			if !cfg.DisableWorkloadPath && !has(sels, "path:"+fp.bin) {
				t.Errorf("path selector missing from %v", sels.Strings())
			}
			for _, w := range tt.want {
				if !has(sels, w) {
					t.Errorf("unix:%s missing from %v", w, sels.Strings())
				}
			}
			for _, nw := range tt.notWant {
				if got := values(sels, nw); len(got) > 0 {
					t.Errorf("unexpected unix:%s%v in %v", nw, got, sels.Strings())
				}
			}
		})
	}
}

// TestHashCacheKey shows the digest is reused while path, inode, size and
// mtime are unchanged, and recomputed when any of them changes.
func TestHashCacheKey(t *testing.T) {
	fp := newFakeProc(t, 7, "", []byte("version-1"))
	a := unix.New(unix.Config{ProcRoot: fp.root})
	p := fakeproc.Open(t, fp.root, 7)
	digest := func() string {
		t.Helper()
		sels, err := a.Attest(context.Background(), p, 1, 1)
		if err != nil {
			t.Fatalf("Attest: %v", err)
		}
		got := values(sels, "sha256:")
		if len(got) != 1 {
			t.Fatalf("sha256 selectors = %v", got)
		}
		return got[0]
	}
	first := digest()
	if first != sha256File(t, fp.bin) {
		t.Fatalf("digest %s does not match the file", first)
	}
	fi, err := os.Stat(fp.bin)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("same size and mtime reuses the digest", func(t *testing.T) {
		// Rewrite in place (same inode and size) and restore the mtime: the
		// cache cannot tell, which proves the digest was not recomputed.
		if err := os.WriteFile(fp.bin, []byte("version-2"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(fp.bin, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		if got := digest(); got != first {
			t.Errorf("digest = %s, want cached %s", got, first)
		}
	})
	t.Run("changed mtime recomputes", func(t *testing.T) {
		later := fi.ModTime().Add(time.Second)
		if err := os.Chtimes(fp.bin, later, later); err != nil {
			t.Fatal(err)
		}
		if got, want := digest(), sha256File(t, fp.bin); got != want {
			t.Errorf("digest = %s, want %s", got, want)
		}
	})
	t.Run("changed size recomputes", func(t *testing.T) {
		if err := os.WriteFile(fp.bin, []byte("version-three"), 0o755); err != nil {
			t.Fatal(err)
		}
		if got, want := digest(), sha256File(t, fp.bin); got != want {
			t.Errorf("digest = %s, want %s", got, want)
		}
	})
}

// TestAttestRefusesChangedProcess changes a fake tree after the process
// was identified: a new start time is a reused pid, a new executable an
// exec; either way nothing read may be reported.
func TestAttestRefusesChangedProcess(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, fp fakeProc)
		want   error
	}{
		{name: "pid reused", want: procid.ErrGone, change: func(t *testing.T, fp fakeProc) {
			fakeproc.WriteStat(t, fp.root, 42, fakeproc.StartTime+1)
		}},
		{name: "exec'd another binary", want: procid.ErrExeChanged, change: func(t *testing.T, fp fakeProc) {
			other := filepath.Join(filepath.Dir(fp.bin), "other")
			if err := os.WriteFile(other, []byte("#!/bin/false\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			exe := filepath.Join(fp.root, "42", "exe")
			if err := os.Remove(exe); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, exe); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := newFakeProc(t, 42, "10", []byte("#!/bin/true\n"))
			a := unix.New(unix.Config{ProcRoot: fp.root})
			p := fakeproc.Open(t, fp.root, 42)
			if _, err := a.Attest(context.Background(), p, 1, 1); err != nil {
				t.Fatalf("Attest before the change: %v", err)
			}
			tt.change(t, fp)
			sels, err := a.Attest(context.Background(), p, 1, 1)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Attest = %q, %v; want %v", sels.Strings(), err, tt.want)
			}
		})
	}
}

func TestAttestExitedProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := procid.OpenPID("/proc", int32(cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	_, err = unix.New(unix.Config{}).Attest(context.Background(), p, 0, 0)
	if !errors.Is(err, procid.ErrGone) {
		t.Fatalf("Attest of exited pid %d = %v, want ErrGone", p.PID(), err)
	}
}

func TestAttestNoProcess(t *testing.T) {
	if _, err := unix.New(unix.Config{}).Attest(context.Background(), nil, 0, 0); err == nil {
		t.Fatal("Attest(nil) succeeded, want error")
	}
}

func BenchmarkUnixAttest(b *testing.B) {
	p, uid, gid := self(b)
	a := unix.New(unix.Config{})
	ctx := context.Background()
	if _, err := a.Attest(ctx, p, uid, gid); err != nil { // warm the hash cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Attest(ctx, p, uid, gid); err != nil {
			b.Fatal(err)
		}
	}
}
