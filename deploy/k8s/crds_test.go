package k8s_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/svidkit/svidkit/internal/crdgen"
)

// TestCRDsAreGenerated runs the generator of `go tool task crds`
// (controller-gen over pkg/server/registrar/api) into a temporary
// directory and requires deploy/k8s/crds to hold exactly its output, so
// that the committed CRDs cannot drift from the Go types and their
// kubebuilder markers.
func TestCRDsAreGenerated(t *testing.T) {
	root := repoRoot(t)
	tmp := t.TempDir()
	names, err := crdgen.Generate(t.Context(), root, tmp)
	if err != nil {
		t.Fatal(err)
	}
	committedDir := filepath.Join(root, filepath.FromSlash(crdgen.Dir))
	committed, err := filepath.Glob(filepath.Join(committedDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range committed {
		if !slices.Contains(names, filepath.Base(p)) {
			t.Errorf("%s/%s is not generated from the types: remove it, or run `go tool task crds`", crdgen.Dir, filepath.Base(p))
		}
	}
	for _, n := range names {
		want, err := os.ReadFile(filepath.Join(tmp, n))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(committedDir, n))
		if err != nil {
			t.Errorf("%s/%s: %v; run `go tool task crds` and commit the result", crdgen.Dir, n, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s/%s differs from what the generator writes from the types; run `go tool task crds` and commit the result", crdgen.Dir, n)
		}
	}
}
