package unixsock

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestListenDetectsReplacement: when the socket path stops naming the
// socket right after it is put in place, Listen fails with ErrReplaced,
// closes its listener and leaves the replacement alone. The replacement is
// injected at that moment through listen's hook (a fault that cannot be
// timed from outside); in a directory only root and the daemon can write,
// only they could do it.
func TestListenDetectsReplacement(t *testing.T) {
	dir, err := os.MkdirTemp("", "us")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "api.sock")
	tests := []struct {
		name    string
		replace func(t *testing.T)
	}{
		{name: "another socket", replace: func(t *testing.T) {
			other := filepath.Join(dir, "other.sock")
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: other, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			t.Cleanup(func() { l.Close() })
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a symlink", replace: func(t *testing.T) {
			link := filepath.Join(dir, "link")
			if err := os.Symlink("/etc/hostname", link); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(link, path); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "removed", replace: func(t *testing.T) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(path)
			lis, err := listen(context.Background(), path, Config{Mode: 0o777, DirMode: 0o755}, func() { tt.replace(t) })
			if err == nil {
				lis.Close()
				t.Fatal("Listen succeeded although its socket was replaced")
			}
			if !errors.Is(err, ErrReplaced) {
				t.Fatalf("Listen error = %v, want ErrReplaced", err)
			}
			after, _ := os.Lstat(path)
			if tt.name != "removed" && after == nil {
				t.Fatal("Listen removed the replacement")
			}
			if after != nil && after.Mode().Perm() == 0o777 && after.Mode().Type() != os.ModeSymlink {
				t.Errorf("Listen changed the replacement's mode to %v", after.Mode())
			}
		})
	}
}
