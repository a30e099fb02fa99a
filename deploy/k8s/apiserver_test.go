package k8s_test

import (
	"path/filepath"
	"testing"

	"github.com/svidkit/svidkit/internal/kubeenv"
)

// TestAPIServerAcceptsCSIManifests applies the agent DaemonSet (with
// svidkit-csi and its registrar), the CSIDriver object and the examples'
// pods with their inline CSI volumes to a real kube-apiserver
// (internal/kubeenv), whose validation the strict decoding here does not
// repeat: a privileged container with allowPrivilegeEscalation: false,
// Bidirectional propagation in an unprivileged container, or a malformed
// CSI driver name is refused there.
func TestAPIServerAcceptsCSIManifests(t *testing.T) {
	env := kubeenv.Start(t)
	root := repoRoot(t)
	// The examples register their pods with ClusterSPIFFEIDs.
	env.InstallCRDs(t, filepath.Join(root, "deploy", "k8s", "crds"))
	files := []string{
		"deploy/k8s/namespace.yaml", "deploy/k8s/agent-rbac.yaml", "deploy/k8s/agent-configmap.yaml",
		"deploy/k8s/agent-daemonset.yaml", "deploy/k8s/csi-driver.yaml",
		"examples/envoy/k8s.yaml",
		"examples/legacy-db/k8s/namespace.yaml", "examples/legacy-db/k8s/serviceaccounts.yaml",
		"examples/legacy-db/k8s/clusterspiffeids.yaml",
		"examples/legacy-db/k8s/app-deployment.yaml", "examples/legacy-db/k8s/db-statefulset.yaml",
	}
	for i, f := range files {
		files[i] = filepath.Join(root, filepath.FromSlash(f))
	}
	env.Apply(t, files...)
}
