package release

import (
	"context"
	"fmt"
	"os/exec"
)

// writeSBOM writes a CycloneDX SBOM (JSON) of the binary at bin to dst
// with cyclonedx-gomod's bin mode, run as this module's Go tool
// dependency (go.mod's tool block), so every clone uses the same version.
// Bin mode reads the module list Go records in the binary: exactly the
// modules linked into it, for its platform, with their go.sum hashes.
// cyclonedx-gomod is the CycloneDX project's own, maintained Go generator;
// it needs no network without -licenses.
func writeSBOM(ctx context.Context, root, bin, version, dst string) error {
	cmd := exec.CommandContext(ctx, "go", "tool", "cyclonedx-gomod", "bin", "-json", "-version", version, "-output", dst, bin)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("release: SBOM of %s: %w\n%s", bin, err, out)
	}
	return nil
}
