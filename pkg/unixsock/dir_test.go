package unixsock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/prereq"
	"github.com/svidkit/svidkit/internal/sockrace"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// mkdir creates dir with mode exactly, owned by uid.
func mkdir(t *testing.T, dir string, mode os.FileMode, uid int) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// TestListenDirChecks: a directory on the socket path that another uid
// owns, or that group or others may write without the sticky bit, is
// refused with its path, owner and mode named, whether it is the socket's
// own directory or above it, reached through a symlink or not. Directories
// only root or the daemon can change (a kubelet hostPath, root 0755; /tmp,
// sticky) are accepted. SharedDir relaxes the socket's own directory only.
func TestListenDirChecks(t *testing.T) {
	prereq.Root(t, "acts as a second uid")
	const other = sockrace.Nobody // the other uid, 65534
	tests := []struct {
		name string
		// layout builds the directories under base and returns the
		// socket directory.
		layout  func(t *testing.T, base string) string
		shared  bool
		wantErr string // "" = accepted; else "<dir relative to base>|<owner uid>|<mode>"
	}{
		{name: "kubelet hostPath, root 0755", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "sockets")
			mkdir(t, d, 0o755, 0)
			return d
		}},
		{name: "owned by another uid", wantErr: "sockets|65534|0755", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "sockets")
			mkdir(t, d, 0o755, other)
			return d
		}},
		{name: "group-writable", wantErr: "sockets|0|0775", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "sockets")
			mkdir(t, d, 0o775, 0)
			return d
		}},
		{name: "world-writable without sticky bit", wantErr: "sockets|0|0777", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "sockets")
			mkdir(t, d, 0o777, 0)
			return d
		}},
		{name: "world-writable with sticky bit, like /tmp", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "tmp")
			mkdir(t, d, os.ModeSticky|0o777, 0)
			return d
		}},
		{name: "another uid's directory in a sticky one", wantErr: "tmp/spire-agent|65534|0755", layout: func(t *testing.T, base string) string {
			tmp := filepath.Join(base, "tmp")
			mkdir(t, tmp, os.ModeSticky|0o777, 0)
			d := filepath.Join(tmp, "spire-agent")
			mkdir(t, d, 0o755, other)
			pub := filepath.Join(d, "public")
			mkdir(t, pub, 0o755, 0)
			return pub
		}},
		{name: "shared directory accepted", shared: true, layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "emptydir")
			mkdir(t, d, 0o777, other)
			return d
		}},
		{name: "shared does not cover an unsafe ancestor", shared: true, wantErr: "mine|65534|0755", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "mine")
			mkdir(t, d, 0o755, other)
			sub := filepath.Join(d, "sockets")
			mkdir(t, sub, 0o755, 0)
			return sub
		}},
		{name: "nothing created under another uid's directory", wantErr: "theirs|65534|0755", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "theirs")
			mkdir(t, d, 0o755, other)
			t.Cleanup(func() {
				if _, err := os.Lstat(filepath.Join(d, "run")); err == nil {
					t.Error("Listen created a directory inside another uid's directory")
				}
			})
			return filepath.Join(d, "run", "svidkit")
		}},
		{name: "symlink kept by root to a safe directory, like /var/run", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "run")
			mkdir(t, d, 0o755, 0)
			if err := os.Symlink("run", filepath.Join(base, "varrun")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(base, "varrun")
		}},
		{name: "symlink in another uid's directory", wantErr: "home|65534|0755", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "run")
			mkdir(t, d, 0o755, 0)
			home := filepath.Join(base, "home")
			mkdir(t, home, 0o755, other)
			if err := os.Symlink("../run", filepath.Join(home, "link")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(home, "link")
		}},
		{name: "symlink to another uid's directory", wantErr: "theirs|65534|0755", layout: func(t *testing.T, base string) string {
			d := filepath.Join(base, "theirs")
			mkdir(t, d, 0o755, other)
			if err := os.Symlink(d, filepath.Join(base, "link")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(base, "link")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tempDir(t)
			dir := tt.layout(t, base)
			path := filepath.Join(dir, "api.sock")
			lis, err := unixsock.Listen(context.Background(), path, unixsock.Config{
				Mode: 0o777, DirMode: 0o755, SharedDir: tt.shared, SharedHint: "socket_dir_shared = true",
			})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Listen: %v", err)
				}
				lis.Close()
				return
			}
			if err == nil {
				lis.Close()
				t.Fatal("Listen succeeded, want a refusal")
			}
			want := strings.Split(tt.wantErr, "|")
			for _, want := range []string{fmt.Sprintf("%q", filepath.Join(base, want[0])), "owned by uid " + want[1], "mode " + want[2]} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Listen error = %v, want it to contain %s", err, want)
				}
			}
			if !errors.Is(err, unixsock.ErrUnsafeDir) {
				t.Errorf("Listen error = %v, want ErrUnsafeDir", err)
			}
			var de *unixsock.DirError
			if errors.As(err, &de) && de.SocketDir != strings.Contains(err.Error(), "socket_dir_shared = true") {
				t.Errorf("error %v: the shared hint belongs to the socket's own directory only", err)
			}
		})
	}
}
