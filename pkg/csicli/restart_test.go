package csicli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	csispec "github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/internal/gobuild"
	"github.com/svidkit/svidkit/internal/prereq"
	"github.com/svidkit/svidkit/pkg/csi"
	"github.com/svidkit/svidkit/pkg/csi/bindmount"
)

// buildCSI builds cmd/csi with the flags of Taskfile.yml's build task into
// the test's temporary directory.
func buildCSI(t *testing.T) string {
	t.Helper()
	return filepath.Join(gobuild.Binaries(t, "csi"), "svidkit-csi")
}

// syncBuffer collects a child's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// driverProcess is a running svidkit-csi.
type driverProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	node csispec.NodeClient
}

// startDriver runs bin with args and connects to its socket.
func startDriver(t *testing.T, bin, sock string, args ...string) *driverProcess {
	t.Helper()
	p := &driverProcess{out: &syncBuffer{}}
	p.cmd = exec.Command(bin, append([]string{"-csi-socket-path", sock}, args...)...)
	p.cmd.Env = append(os.Environ(), "MY_NODE_NAME=restart-node")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := csispec.NewIdentityClient(conn).Probe(ctx, &csispec.ProbeRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("probe the driver: %v\n%s", err, p.out)
	}
	p.node = csispec.NewNodeClient(conn)
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *driverProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("svidkit-csi exited with %v on SIGTERM, want 0\n%s", err, p.out)
	}
}

// TestRestartKeepsMounts runs the real binary as a child process: a volume
// it published stays mounted (once) across a SIGTERM and a restart, the
// restarted driver, which keeps no state, publishes it again without
// stacking a mount and unpublishes it.
func TestRestartKeepsMounts(t *testing.T) {
	prereq.Root(t, "bind mounts")
	bin := buildCSI(t)
	base := t.TempDir()
	socketDir := filepath.Join(base, "agent-sockets")
	target := filepath.Join(base, "pod", "mount")
	for _, d := range []string{socketDir, filepath.Dir(target)} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for range 100 { // whatever a failed test left mounted
			if unix.Unmount(target, unix.MNT_DETACH) != nil {
				break
			}
		}
	})
	sock := filepath.Join(base, "plugin", "csi.sock")
	args := []string{"-workload-api-socket-dir", socketDir}
	req := &csispec.NodePublishVolumeRequest{
		VolumeId:   "csi-0123",
		TargetPath: target,
		VolumeCapability: &csispec.VolumeCapability{
			AccessType: &csispec.VolumeCapability_Mount{Mount: &csispec.VolumeCapability_MountVolume{}},
			AccessMode: &csispec.VolumeCapability_AccessMode{Mode: csispec.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY},
		},
		Readonly:      true,
		VolumeContext: map[string]string{csi.EphemeralContextKey: "true"},
	}

	first := startDriver(t, bin, sock, args...)
	if _, err := first.node.NodePublishVolume(t.Context(), req); err != nil {
		t.Fatalf("publish: %v\n%s", err, first.out)
	}
	first.stop(t)
	if n := mounts(t, target); n != 1 {
		t.Fatalf("%d mounts on the target after the driver stopped, want 1", n)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CSI socket after SIGTERM: %v, want it removed", err)
	}

	second := startDriver(t, bin, sock, args...)
	if _, err := second.node.NodePublishVolume(t.Context(), req); err != nil {
		t.Fatalf("publish after restart: %v\n%s", err, second.out)
	}
	if n := mounts(t, target); n != 1 {
		t.Fatalf("%d mounts on the target after restart and publish, want 1", n)
	}
	if _, err := second.node.NodeUnpublishVolume(t.Context(), &csispec.NodeUnpublishVolumeRequest{VolumeId: req.VolumeId, TargetPath: target}); err != nil {
		t.Fatalf("unpublish after restart: %v\n%s", err, second.out)
	}
	if n := mounts(t, target); n != 0 {
		t.Errorf("%d mounts left after unpublish", n)
	}
	second.stop(t)
}

func mounts(t *testing.T, target string) int {
	t.Helper()
	l, err := bindmount.Layers(target)
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}
