package unixsock_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/svidkit/svidkit/pkg/unixsock"
)

// tempDir returns a short directory (socket paths are limited to 107
// bytes) that any user may enter, removed when the test ends.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "us")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// staleSocket leaves a socket nobody listens on at path.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
}

// TestListen covers what every call site relies on: the exact socket mode
// and created directory mode whatever the umask, a stale socket replaced,
// anything else at the path refused and kept, a live socket refused when
// asked.
func TestListen(t *testing.T) {
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })
	tests := []struct {
		name    string
		cfg     unixsock.Config
		prepare func(t *testing.T, path string)
		wantErr string
	}{
		{name: "world mode under umask 077", cfg: unixsock.Config{Mode: 0o777, DirMode: 0o755}},
		{name: "group mode", cfg: unixsock.Config{Mode: 0o660, DirMode: 0o750}},
		{name: "owner only", cfg: unixsock.Config{Mode: 0o600, DirMode: 0o700}},
		{name: "stale socket replaced", cfg: unixsock.Config{Mode: 0o777, DirMode: 0o755}, prepare: staleSocket},
		{name: "stale socket replaced when live ones are refused", cfg: unixsock.Config{Mode: 0o660, DirMode: 0o755, RefuseInUse: true}, prepare: staleSocket},
		{name: "live socket replaced", cfg: unixsock.Config{Mode: 0o777, DirMode: 0o755}, prepare: liveSocket},
		{name: "live socket refused", cfg: unixsock.Config{Mode: 0o660, DirMode: 0o755, RefuseInUse: true}, prepare: liveSocket, wantErr: "in use"},
		{name: "regular file refused", cfg: unixsock.Config{Mode: 0o777, DirMode: 0o755}, wantErr: "not a socket", prepare: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "symlink refused", cfg: unixsock.Config{Mode: 0o777, DirMode: 0o755}, wantErr: "not a socket", prepare: func(t *testing.T, path string) {
			if err := os.Symlink("/etc/hostname", path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tempDir(t)
			dir := filepath.Join(root, "run", "svidkit")
			path := filepath.Join(dir, "api.sock")
			if tt.prepare != nil {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				tt.prepare(t, path)
			}
			before, _ := os.Lstat(path)
			lis, err := unixsock.Listen(context.Background(), path, tt.cfg)
			if tt.wantErr != "" {
				if err == nil {
					lis.Close()
					t.Fatalf("Listen succeeded, want an error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("Listen error = %v, want it to name %s and contain %q", err, path, tt.wantErr)
				}
				after, statErr := os.Lstat(path)
				if statErr != nil || !os.SameFile(before, after) {
					t.Fatalf("refused Listen changed %s", path)
				}
				assertNoTempDirs(t, dir)
				return
			}
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			defer lis.Close()
			if got := lis.Addr().String(); got != path {
				t.Errorf("Addr() = %s, want %s", got, path)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != tt.cfg.Mode {
				t.Errorf("%s is %v, want a socket with mode %v", path, fi.Mode(), tt.cfg.Mode)
			}
			if tt.prepare == nil {
				for _, d := range []string{filepath.Join(root, "run"), dir} {
					if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != tt.cfg.DirMode {
						t.Errorf("created directory %s: mode %v, %v; want %v", d, fi.Mode().Perm(), err, tt.cfg.DirMode)
					}
				}
			}
			assertNoTempDirs(t, dir)
			conn, err := net.Dial("unix", path)
			if err != nil {
				t.Fatalf("dial the new socket: %v", err)
			}
			conn.Close()
		})
	}
	t.Run("empty path", func(t *testing.T) {
		if _, err := unixsock.Listen(context.Background(), "", unixsock.Config{Mode: 0o600}); err == nil {
			t.Fatal("Listen(\"\") succeeded")
		}
	})
}

// liveSocket leaves a socket another process (here: the test) serves.
func liveSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	t.Cleanup(func() { l.Close() })
}

// assertNoTempDirs fails if Listen left its private directory behind.
func assertNoTempDirs(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".s") {
			t.Errorf("temporary %s left in %s", e.Name(), dir)
		}
	}
}

// TestListenerClose: Close removes the socket, but not one that replaced
// it at the path (a newer instance's).
func TestListenerClose(t *testing.T) {
	cfg := unixsock.Config{Mode: 0o600, DirMode: 0o755}
	t.Run("removes its socket", func(t *testing.T) {
		path := filepath.Join(tempDir(t), "api.sock")
		lis, err := unixsock.Listen(context.Background(), path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := lis.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("socket still there after Close: %v", err)
		}
	})
	t.Run("keeps a newer socket", func(t *testing.T) {
		path := filepath.Join(tempDir(t), "api.sock")
		first, err := unixsock.Listen(context.Background(), path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		second, err := unixsock.Listen(context.Background(), path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("the newer socket is gone after the older listener's Close: %v", err)
		}
		conn.Close()
	})
}

// TestListenSharedDirWarns: a directory declared shared is accepted, with
// a warning naming it, its owner and its mode.
func TestListenSharedDirWarns(t *testing.T) {
	dir := filepath.Join(tempDir(t), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sds.sock")
	var logs bytes.Buffer
	lis, err := unixsock.Listen(context.Background(), path, unixsock.Config{
		Mode: 0o660, DirMode: 0o755, SharedDir: true, Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatalf("Listen in a shared directory: %v", err)
	}
	defer lis.Close()
	for _, want := range []string{"level=WARN", "dir=" + dir, "mode=0777", "owner_uid="} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q does not contain %q", logs.String(), want)
		}
	}
}

// TestListenLongPath: a socket path of the longest length bind accepts
// (107 bytes) works, although Listen's temporary path would not fit.
func TestListenLongPath(t *testing.T) {
	base := tempDir(t)
	dir := filepath.Join(base, strings.Repeat("d", 107-len(base)-len("//api.sock")))
	path := filepath.Join(dir, "api.sock")
	if len(path) != 107 {
		t.Fatalf("test path is %d bytes, want 107", len(path))
	}
	lis, err := unixsock.Listen(context.Background(), path, unixsock.Config{Mode: 0o600, DirMode: 0o755})
	if err != nil {
		t.Fatalf("Listen(%d-byte path): %v", len(path), err)
	}
	defer lis.Close()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}
