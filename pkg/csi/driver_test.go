package csi_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	csispec "github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/csi"
)

func newDriver(t *testing.T, socketDir string, reg prometheus.Registerer) *csi.Driver {
	t.Helper()
	d, err := csi.New(csi.Config{NodeID: "node-1", WorkloadAPISocketDir: socketDir, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// publishRequest is what the kubelet sends for a pod's inline volume with
// readOnly: true.
func publishRequest(target string) *csispec.NodePublishVolumeRequest {
	return &csispec.NodePublishVolumeRequest{
		VolumeId:   "csi-0123",
		TargetPath: target,
		VolumeCapability: &csispec.VolumeCapability{
			AccessType: &csispec.VolumeCapability_Mount{Mount: &csispec.VolumeCapability_MountVolume{}},
			AccessMode: &csispec.VolumeCapability_AccessMode{Mode: csispec.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY},
		},
		Readonly:      true,
		VolumeContext: map[string]string{csi.EphemeralContextKey: "true", "csi.storage.k8s.io/pod.name": "app"},
	}
}

// TestPublishRefuses: everything but a read-only inline ephemeral volume
// is refused with InvalidArgument naming the field, before anything is
// mounted.
func TestPublishRefuses(t *testing.T) {
	target := filepath.Join(t.TempDir(), "mount")
	tests := []struct {
		name   string
		change func(r *csispec.NodePublishVolumeRequest)
		want   []string
	}{
		{"no volume id", func(r *csispec.NodePublishVolumeRequest) { r.VolumeId = "" }, []string{"volume_id"}},
		{"no target path", func(r *csispec.NodePublishVolumeRequest) { r.TargetPath = "" }, []string{"target_path"}},
		{"relative target path", func(r *csispec.NodePublishVolumeRequest) { r.TargetPath = "pods/x/mount" }, []string{"target_path", "not absolute"}},
		{"no capability", func(r *csispec.NodePublishVolumeRequest) { r.VolumeCapability = nil }, []string{"volume_capability"}},
		{"block volume", func(r *csispec.NodePublishVolumeRequest) {
			r.VolumeCapability.AccessType = &csispec.VolumeCapability_Block{Block: &csispec.VolumeCapability_BlockVolume{}}
		}, []string{"volume_capability.access_type"}},
		{"fs type", func(r *csispec.NodePublishVolumeRequest) { r.VolumeCapability.GetMount().FsType = "ext4" }, []string{"fs_type", "ext4"}},
		{"mount flags", func(r *csispec.NodePublishVolumeRequest) { r.VolumeCapability.GetMount().MountFlags = []string{"rw"} }, []string{"mount_flags"}},
		{"no access mode", func(r *csispec.NodePublishVolumeRequest) { r.VolumeCapability.AccessMode = nil }, []string{"access_mode"}},
		{"persistent volume", func(r *csispec.NodePublishVolumeRequest) { delete(r.VolumeContext, csi.EphemeralContextKey) },
			[]string{`volume_context["csi.storage.k8s.io/ephemeral"] is ""`, "inline ephemeral"}},
		{"ephemeral false", func(r *csispec.NodePublishVolumeRequest) { r.VolumeContext[csi.EphemeralContextKey] = "false" },
			[]string{`is "false"`}},
		{"not read-only", func(r *csispec.NodePublishVolumeRequest) { r.Readonly = false }, []string{"readonly", "readOnly: true"}},
	}
	reg := prometheus.NewRegistry()
	d := newDriver(t, t.TempDir(), reg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := publishRequest(target)
			tt.change(req)
			_, err := d.NodePublishVolume(context.Background(), req)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("NodePublishVolume: %v, want InvalidArgument", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(status.Convert(err).Message(), w) {
					t.Errorf("message %q does not contain %q", status.Convert(err).Message(), w)
				}
			}
			if _, err := os.Lstat(target); !os.IsNotExist(err) {
				t.Errorf("refused publish created the target: %v", err)
			}
		})
	}
	if got := errorCount(t, reg, "NodePublishVolume", "InvalidArgument"); got != float64(len(tests)) {
		t.Errorf("svidkit_csi_errors_total{NodePublishVolume,InvalidArgument} = %v, want %d", got, len(tests))
	}
}

// errorCount returns svidkit_csi_errors_total{method, code} from reg.
func errorCount(t *testing.T, reg *prometheus.Registry, method, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "svidkit_csi_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestUnpublishRefuses: unpublish needs the volume and the target.
func TestUnpublishRefuses(t *testing.T) {
	d := newDriver(t, t.TempDir(), nil)
	for _, tt := range []struct {
		name string
		req  *csispec.NodeUnpublishVolumeRequest
		want string
	}{
		{"no volume id", &csispec.NodeUnpublishVolumeRequest{TargetPath: "/x"}, "volume_id"},
		{"no target path", &csispec.NodeUnpublishVolumeRequest{VolumeId: "v"}, "target_path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.NodeUnpublishVolume(context.Background(), tt.req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NodeUnpublishVolume: %v, want InvalidArgument naming %s", err, tt.want)
			}
		})
	}
}

// TestProbeFollowsSocketDir: the driver is ready only while the agent's
// socket directory exists, and a publish before then fails (retried by the
// kubelet) instead of mounting an empty directory.
func TestProbeFollowsSocketDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "agent-sockets")
	d := newDriver(t, dir, nil)
	ready := func() bool {
		resp, err := d.Probe(context.Background(), &csispec.ProbeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetReady().GetValue()
	}
	if ready() || d.Ready() {
		t.Error("ready before the socket directory exists")
	}
	_, err := d.NodePublishVolume(context.Background(), publishRequest(filepath.Join(t.TempDir(), "mount")))
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), dir) {
		t.Errorf("publish without the socket directory: %v, want FailedPrecondition naming it", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if !ready() || !d.Ready() {
		t.Error("not ready once the socket directory exists")
	}
}
