// Package release packs what internal/images built into release
// artifacts: a tar.gz archive of the binaries per platform, a CycloneDX
// SBOM per binary and platform, and SHA256SUMS over them (sha256sum -c
// reads it). tools/release runs it after images.Build, so the archives
// hold the very binaries the images carry.
package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/svidkit/svidkit/internal/images"
)

// Config says what to pack and where.
type Config struct {
	// Root is the module root (for the SBOM generator, a Go tool
	// dependency of this module, and the documents archived beside the
	// binaries).
	Root string
	// Built is what images.Build wrote.
	Built images.Result
	// Out receives the archives, the sbom/ directory and SHA256SUMS.
	Out string
}

// Artifacts is what Package wrote, paths relative to Config.Out.
type Artifacts struct {
	Archives []string
	SBOMs    []string
	Sums     string
}

// docs are archived beside the binaries, from the module root.
func docs() []string { return []string{"README.md", "CHANGELOG.md"} }

// Package writes the archives, SBOMs and SHA256SUMS.
func Package(ctx context.Context, cfg Config) (Artifacts, error) {
	if err := os.MkdirAll(filepath.Join(cfg.Out, "sbom"), 0o755); err != nil {
		return Artifacts{}, fmt.Errorf("release: %w", err)
	}
	var a Artifacts
	for _, p := range cfg.Built.Platforms {
		name := fmt.Sprintf("svidkit_%s_%s_%s.tar.gz", cfg.Built.Tag, p.OS, p.Arch)
		var files []archiveFile
		for _, b := range cfg.Built.Images {
			files = append(files, archiveFile{src: b.Binaries[p], name: b.Name, mode: 0o755})
			sbom := filepath.Join("sbom", fmt.Sprintf("%s_%s_%s_%s.cdx.json", b.Name, cfg.Built.Tag, p.OS, p.Arch))
			if err := writeSBOM(ctx, cfg.Root, b.Binaries[p], cfg.Built.Info.Version, filepath.Join(cfg.Out, sbom)); err != nil {
				return Artifacts{}, err
			}
			a.SBOMs = append(a.SBOMs, sbom)
		}
		for _, d := range docs() {
			files = append(files, archiveFile{src: filepath.Join(cfg.Root, d), name: d, mode: 0o644})
		}
		top := fmt.Sprintf("svidkit_%s_%s_%s", cfg.Built.Tag, p.OS, p.Arch)
		if err := writeArchive(filepath.Join(cfg.Out, name), top, files); err != nil {
			return Artifacts{}, err
		}
		a.Archives = append(a.Archives, name)
	}
	a.Sums = "SHA256SUMS"
	if err := writeSums(cfg.Out, a.Sums, append(append([]string(nil), a.Archives...), a.SBOMs...)); err != nil {
		return Artifacts{}, err
	}
	return a, nil
}
