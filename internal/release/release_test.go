package release_test

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/images"
	"github.com/svidkit/svidkit/internal/release"
)

// TestPackage builds one small image (svidkit-helper, both platforms; the
// full set is internal/images's test) and packs it: SHA256SUMS must list
// every archive and SBOM with its hash, each archive must hold the binaries
// and documents, each SBOM must be CycloneDX naming the binary's module.
func TestPackage(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var helper []images.Image
	for _, img := range images.List() {
		if img.Name == "svidkit-helper" {
			helper = append(helper, img)
		}
	}
	out := t.TempDir()
	built, err := images.Build(t.Context(), images.Config{Root: root, Out: filepath.Join(out, "images"), Images: helper})
	if err != nil {
		t.Fatal(err)
	}
	a, err := release.Package(t.Context(), release.Config{Root: root, Built: built, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Archives) != len(images.Platforms()) || len(a.SBOMs) != len(images.Platforms()) {
		t.Fatalf("archives %q, SBOMs %q: want one of each per platform", a.Archives, a.SBOMs)
	}

	sums := readSums(t, filepath.Join(out, a.Sums))
	var listed []string
	for file, want := range sums {
		listed = append(listed, file)
		data, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(file)))
		if err != nil {
			t.Errorf("SHA256SUMS lists %s: %v", file, err)
			continue
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: SHA-256 %x, SHA256SUMS says %s", file, got, want)
		}
	}
	slices.Sort(listed)
	onDisk, err := filepath.Glob(filepath.Join(out, "*.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	sboms, err := filepath.Glob(filepath.Join(out, "sbom", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range append(onDisk, sboms...) {
		rel, _ := filepath.Rel(out, f)
		want = append(want, filepath.ToSlash(rel))
	}
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("SHA256SUMS lists %q, the release holds %q", listed, want)
	}

	for _, name := range a.Archives {
		files := readArchive(t, filepath.Join(out, name))
		top := strings.TrimSuffix(name, ".tar.gz")
		for _, f := range []string{"svidkit-helper", "README.md", "CHANGELOG.md"} {
			if _, ok := files[top+"/"+f]; !ok {
				t.Errorf("%s has no %s/%s (has %v)", name, top, f, files)
			}
		}
		if m := files[top+"/svidkit-helper"]; m&0o111 == 0 {
			t.Errorf("%s: svidkit-helper mode %o, not executable", name, m)
		}
	}
	for _, s := range a.SBOMs {
		var bom struct {
			BOMFormat string `json:"bomFormat"`
			Metadata  struct {
				Component struct {
					Name string `json:"name"`
				} `json:"component"`
			} `json:"metadata"`
			Components []struct {
				Name string `json:"name"`
			} `json:"components"`
		}
		data, err := os.ReadFile(filepath.Join(out, s))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &bom); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if bom.BOMFormat != "CycloneDX" || !strings.Contains(bom.Metadata.Component.Name, "github.com/svidkit/svidkit") || len(bom.Components) == 0 {
			t.Errorf("%s: format %q, component %q, %d dependencies", s, bom.BOMFormat, bom.Metadata.Component.Name, len(bom.Components))
		}
	}
}

// readSums parses a SHA256SUMS file into file → hex digest.
func readSums(t *testing.T, p string) map[string]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS line %q is not sha256sum's format", sc.Text())
		}
		sums[file] = sum
	}
	if len(sums) == 0 {
		t.Fatal("SHA256SUMS is empty")
	}
	return sums
}

// readArchive returns the archive's entries and their modes.
func readArchive(t *testing.T, p string) map[string]int64 {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	tr := tar.NewReader(zr)
	files := map[string]int64{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		files[h.Name] = h.Mode
	}
}
