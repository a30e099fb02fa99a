package csid_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	csispec "github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/prereq"
	"github.com/svidkit/svidkit/pkg/csi"
	"github.com/svidkit/svidkit/pkg/csi/bindmount"
	"github.com/svidkit/svidkit/pkg/csid"
)

// dial returns a Node client of the driver at sock, connected (waiting
// for the socket up to a deadline).
func dial(t *testing.T, sock string) csispec.NodeClient {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := csispec.NewIdentityClient(conn).Probe(ctx, &csispec.ProbeRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("probe %s: %v", sock, err)
	}
	return csispec.NewNodeClient(conn)
}

func publishRequest(target string) *csispec.NodePublishVolumeRequest {
	return &csispec.NodePublishVolumeRequest{
		VolumeId:   "csi-0123",
		TargetPath: target,
		VolumeCapability: &csispec.VolumeCapability{
			AccessType: &csispec.VolumeCapability_Mount{Mount: &csispec.VolumeCapability_MountVolume{}},
			AccessMode: &csispec.VolumeCapability_AccessMode{Mode: csispec.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY},
		},
		Readonly:      true,
		VolumeContext: map[string]string{csi.EphemeralContextKey: "true"},
	}
}

func mounts(t *testing.T, target string) int {
	t.Helper()
	l, err := bindmount.Layers(target)
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// TestPublishUnpublish drives the daemon over its socket as the kubelet
// does, on real mounts: publish twice (a kubelet restart) leaves one
// read-only mount; unpublish removes it and the target; unpublishing the
// vanished target again succeeds.
func TestPublishUnpublish(t *testing.T) {
	prereq.Root(t, "bind mounts")
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
	start(t, csid.Config{Driver: csi.Config{NodeID: "n", WorkloadAPISocketDir: socketDir}, CSISocketPath: sock})
	node := dial(t, sock)
	ctx := t.Context()

	for i := range 2 {
		if _, err := node.NodePublishVolume(ctx, publishRequest(target)); err != nil {
			t.Fatalf("publish %d: %v", i+1, err)
		}
	}
	if n := mounts(t, target); n != 1 {
		t.Fatalf("%d mounts on the target after two publishes, want 1", n)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write through the published volume: %v, want EROFS", err)
	}
	unpublish := &csispec.NodeUnpublishVolumeRequest{VolumeId: "csi-0123", TargetPath: target}
	if _, err := node.NodeUnpublishVolume(ctx, unpublish); err != nil {
		t.Fatalf("unpublish: %v", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) || mounts(t, target) != 0 {
		t.Errorf("after unpublish: target %v, %d mounts; want it gone", err, mounts(t, target))
	}
	if _, err := node.NodeUnpublishVolume(ctx, unpublish); err != nil {
		t.Errorf("unpublish of a vanished target: %v, want success", err)
	}
}

// TestReadyFollowsSocketDir: the CSI socket has mode 0600, and /ready
// answers 503 until the agent's socket directory exists, then 200.
func TestReadyFollowsSocketDir(t *testing.T) {
	base := t.TempDir()
	socketDir := filepath.Join(base, "agent-sockets")
	sock := filepath.Join(base, "plugin", "csi.sock")
	addr := freeport.Addr(t)
	start(t, csid.Config{Driver: csi.Config{NodeID: "n", WorkloadAPISocketDir: socketDir}, CSISocketPath: sock, HealthAddress: addr})
	dial(t, sock)
	switch fi, err := os.Stat(sock); {
	case err != nil:
		t.Error(err)
	case fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket:
		t.Errorf("CSI socket mode %v; want a socket with mode 0600 (the kubelet and the registrar are root)", fi.Mode())
	}
	if code := getStatus(t, "http://"+addr+"/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("/ready without the socket directory = %d, want 503", code)
	}
	if err := os.Mkdir(socketDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if code := getStatus(t, "http://"+addr+"/ready"); code != http.StatusOK {
		t.Errorf("/ready with the socket directory = %d, want 200", code)
	}
}

// getStatus returns the status code of GET url, retrying until the
// listener (started beside the CSI socket) accepts.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return resp.StatusCode
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond) // poll: the listener starts asynchronously
	}
}
