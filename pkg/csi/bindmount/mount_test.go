package bindmount_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/svidkit/svidkit/internal/prereq"
	"github.com/svidkit/svidkit/pkg/csi/bindmount"
)

// dirs returns a source directory and a target path (not created) in a
// fresh temporary directory, and unmounts whatever is left on the target
// when the test ends.
func dirs(t *testing.T) (source, target string) {
	t.Helper()
	base := t.TempDir()
	source, target = filepath.Join(base, "sockets"), filepath.Join(base, "pod", "mount")
	for _, d := range []string{source, filepath.Dir(target)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { unmountEverything(t, target) })
	return source, target
}

// unmountEverything takes every mount off target (test cleanup).
func unmountEverything(t *testing.T, target string) {
	for range 100 {
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			return
		}
	}
	t.Errorf("more than 100 mounts on %s", target)
}

// layers returns the number of mounts on target.
func layers(t *testing.T, target string) int {
	t.Helper()
	l, err := bindmount.Layers(target)
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

func ensure(t *testing.T, source, target string) bindmount.Result {
	t.Helper()
	res, err := bindmount.Ensure(source, target)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestEnsureTwiceOneMount: publishing the same target again (a kubelet
// restart re-publishes every volume) leaves one mount, where
// spiffe-csi-driver stacked one more each time.
func TestEnsureTwiceOneMount(t *testing.T) {
	prereq.Root(t, "bind mounts")
	source, target := dirs(t)
	if res := ensure(t, source, target); !res.Mounted || res.Removed != 0 {
		t.Errorf("first Ensure = %+v, want a new mount and none removed", res)
	}
	for i := range 3 {
		if res := ensure(t, source, target); res.Mounted || res.Removed != 0 {
			t.Errorf("Ensure again (%d) = %+v, want nothing done", i+2, res)
		}
	}
	if n := layers(t, target); n != 1 {
		t.Errorf("%d mounts on the target after four publishes, want 1", n)
	}
}

// TestEnsureRepairs: what an older driver or a lost agent directory left
// on the target is replaced by the one read-only bind of the source.
func TestEnsureRepairs(t *testing.T) {
	prereq.Root(t, "bind mounts")
	tests := []struct {
		name  string
		setup func(t *testing.T, source, target string)
		want  int // mounts removed
	}{
		{name: "stacked read-write binds", want: 3, setup: func(t *testing.T, source, target string) {
			for range 3 {
				mustMount(t, source, target, unix.MS_BIND)
			}
		}},
		{name: "read-write bind", want: 1, setup: func(t *testing.T, source, target string) {
			mustMount(t, source, target, unix.MS_BIND)
		}},
		{name: "bind of another directory", want: 1, setup: func(t *testing.T, _, target string) {
			mustMount(t, t.TempDir(), target, unix.MS_BIND)
		}},
		// The socket directory was removed and created again on the node:
		// the old mount shows the deleted directory.
		{name: "bind of a recreated source", want: 1, setup: func(t *testing.T, source, target string) {
			mustMount(t, source, target, unix.MS_BIND)
			mustMount(t, "", target, unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY)
			if err := os.Remove(source); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(source, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source, target := dirs(t)
			if err := os.Mkdir(target, 0o750); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, source, target)
			res := ensure(t, source, target)
			if !res.Mounted || res.Removed != tt.want {
				t.Errorf("Ensure = %+v, want a new mount and %d removed", res, tt.want)
			}
			if n := layers(t, target); n != 1 {
				t.Errorf("%d mounts on the target, want 1", n)
			}
			assertReadOnlyView(t, source, target)
		})
	}
}

func mustMount(t *testing.T, source, target string, flags uintptr) {
	t.Helper()
	if err := unix.Mount(source, target, "", flags, ""); err != nil {
		t.Fatal(err)
	}
}

// TestMountIsReadOnly: the pod sees the agent's socket directory and can
// dial the socket in it, but cannot write through the mount.
func TestMountIsReadOnly(t *testing.T) {
	prereq.Root(t, "bind mounts")
	source, target := dirs(t)
	ensure(t, source, target)
	assertReadOnlyView(t, source, target)
}

// assertReadOnlyView checks that target shows source read-only: a socket
// listening in source is dialled through target, and creating a file
// through target fails with EROFS.
func assertReadOnlyView(t *testing.T, source, target string) {
	t.Helper()
	sock := filepath.Join(source, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("unix", filepath.Join(target, "api.sock"))
	if err != nil {
		t.Fatalf("dial the socket through the mount: %v", err)
	}
	conn.Close()
	err = os.WriteFile(filepath.Join(target, "planted"), []byte("x"), 0o644)
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("write through the mount: %v, want EROFS", err)
	}
}

// TestRemove: unpublish takes every mount off and removes the target, and
// succeeds when the target is not mounted or already gone (spiffe-csi-driver
// failed those, so pods could not terminate after a node reboot).
func TestRemove(t *testing.T) {
	prereq.Root(t, "bind mounts")
	tests := []struct {
		name  string
		setup func(t *testing.T, source, target string)
		want  int
	}{
		{name: "published", want: 1, setup: func(t *testing.T, source, target string) { ensure(t, source, target) }},
		{name: "stacked", want: 2, setup: func(t *testing.T, source, target string) {
			ensure(t, source, target)
			mustMount(t, source, target, unix.MS_BIND)
		}},
		{name: "not mounted", setup: func(t *testing.T, _, target string) {
			if err := os.Mkdir(target, 0o750); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "gone", setup: func(*testing.T, string, string) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source, target := dirs(t)
			tt.setup(t, source, target)
			n, err := bindmount.Remove(target)
			if err != nil || n != tt.want {
				t.Fatalf("Remove = %d, %v; want %d removed, no error", n, err, tt.want)
			}
			if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("target after Remove: %v, want it gone", err)
			}
			if n := layers(t, target); n != 0 {
				t.Errorf("%d mounts left on the target", n)
			}
		})
	}
}
