package csid_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/svidkit/svidkit/pkg/csi"
	"github.com/svidkit/svidkit/pkg/csid"
)

// TestSanity runs the Kubernetes CSI sanity suite (csi-test pkg/sanity,
// written by the CSI maintainers) against the driver served by Run on its
// real Unix socket.
func TestSanity(t *testing.T) {
	base := t.TempDir()
	socketDir := filepath.Join(base, "agent-sockets")
	if err := os.Mkdir(socketDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(base, "plugin", "csi.sock")
	start(t, csid.Config{
		Driver:        csi.Config{NodeID: "sanity-node", WorkloadAPISocketDir: socketDir},
		CSISocketPath: sock,
	})

	cfg := sanity.NewTestConfig()
	cfg.Address = "unix://" + sock
	cfg.TargetPath = filepath.Join(base, "csi-mount")
	cfg.StagingPath = filepath.Join(base, "csi-staging")
	sanity.GinkgoTest(&cfg)
	gomega.RegisterFailHandler(ginkgo.Fail)
	suite, reporter := ginkgo.GinkgoConfiguration()
	suite.SkipStrings = append(suite.SkipStrings, notForNodeOnly...)
	reporter.NoColor = true
	ginkgo.RunSpecs(t, "svidkit-csi sanity", suite, reporter)
}

// notForNodeOnly are the sanity specs a node-only plugin cannot run. The
// "[Controller Server]" specs call the Controller service without first
// asking GetPluginCapabilities whether there is one (the Node specs do,
// and skip themselves). "should remove target path" provisions its volume
// with CreateVolume and publishes it read-write: a node-only plugin has no
// CreateVolume, and this driver refuses read-write publishes by design;
// TestPublishUnpublish checks the same behaviour (the target is created
// by publish and removed by unpublish) on a real mount.
var notForNodeOnly = []string{`\[Controller Server\]`, `NodeUnpublishVolume should remove target path`}

// start runs the daemon with cfg until the test ends.
func start(t *testing.T, cfg csid.Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- csid.Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v on cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not stop on cancel")
		}
	})
}
