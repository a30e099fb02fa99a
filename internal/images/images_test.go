package images_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/svidkit/svidkit/internal/images"
)

// built is what TestMain's one Build wrote: two architectures of every
// image take about a minute with a warm build cache, so every test reads
// the same output.
var built images.Result

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "svidkit-images-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start := time.Now()
	built, err = images.Build(context.Background(), images.Config{Root: root, Out: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "images: built %d images for %d platforms in %s\n", len(built.Images), len(built.Platforms), time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// TestLayoutIndex opens each image's OCI layout: one index named by the
// image reference, holding one image per platform with that platform's
// architecture, and checks each image's configuration.
func TestLayoutIndex(t *testing.T) {
	if len(built.Images) != len(images.List()) {
		t.Fatalf("built %d images, List has %d", len(built.Images), len(images.List()))
	}
	for _, b := range built.Images {
		t.Run(b.Name, func(t *testing.T) {
			top, err := layout.ImageIndexFromPath(b.Layout)
			if err != nil {
				t.Fatal(err)
			}
			im, err := top.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Manifests) != 1 || im.Manifests[0].Annotations[images.RefName] != b.Ref {
				t.Fatalf("layout index.json = %+v, want one index named %s", im.Manifests, b.Ref)
			}
			idx, err := top.ImageIndex(im.Manifests[0].Digest)
			if err != nil {
				t.Fatal(err)
			}
			multi, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(multi.Manifests) != len(built.Platforms) {
				t.Fatalf("index has %d manifests, want %d", len(multi.Manifests), len(built.Platforms))
			}
			for i, p := range built.Platforms {
				d := multi.Manifests[i]
				if d.Platform == nil || d.Platform.OS != p.OS || d.Platform.Architecture != p.Arch {
					t.Errorf("index entry %d platform %+v, want %s", i, d.Platform, p)
				}
				img, err := idx.Image(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				checkImage(t, b, p, img)
			}
		})
	}
}

// TestTarballs loads each platform's docker-format tarball by its tag,
// checks it as the layout's images are checked, and runs the binary of the
// host's architecture, taken out of the image, with -version.
func TestTarballs(t *testing.T) {
	for _, b := range built.Images {
		for _, p := range built.Platforms {
			t.Run(b.Name+"/"+p.String(), func(t *testing.T) {
				tag, err := name.NewTag(b.Ref)
				if err != nil {
					t.Fatal(err)
				}
				img, err := tarball.ImageFromPath(b.Tarballs[p], &tag)
				if err != nil {
					t.Fatal(err)
				}
				checkImage(t, b, p, img)
				if p.OS != runtime.GOOS || p.Arch != runtime.GOARCH {
					return
				}
				bin := filepath.Join(t.TempDir(), b.Name)
				if err := extractFile(img, b.Entrypoint(), bin); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(bin, "-version").CombinedOutput()
				if err != nil {
					t.Fatalf("%s -version: %v\n%s", b.Name, err, out)
				}
				if got, want := string(out), built.Info.String()+"\n"; got != want {
					t.Errorf("%s -version printed %q, want %q", b.Name, got, want)
				}
			})
		}
	}
}

// TestRootFS checks the files every image carries: the non-root user and
// group, the CA bundle and a world-writable sticky /tmp.
func TestRootFS(t *testing.T) {
	b := built.Images[0]
	p := built.Platforms[0]
	img, err := tarball.ImageFromPath(b.Tarballs[p], nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := readFS(img)
	if err != nil {
		t.Fatal(err)
	}
	wantContains := map[string]string{
		"etc/passwd":        "nonroot:x:65532:65532:",
		"etc/group":         "nonroot:x:65532:",
		images.CABundlePath: "-----BEGIN CERTIFICATE-----",
	}
	for file, want := range wantContains {
		f, ok := files[file]
		if !ok || !strings.Contains(f.data, want) {
			t.Errorf("%s: missing or lacks %q", file, want)
		}
	}
	if tmp, ok := files["tmp"]; !ok || tmp.mode&0o1777 != 0o1777 {
		t.Errorf("/tmp missing or mode %o, want 1777", tmp.mode)
	}
}

// checkImage checks one platform image's configuration.
func checkImage(t *testing.T, b images.Built, p images.Platform, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Arch {
		t.Errorf("%s %s: config platform %s/%s", b.Name, p, cf.OS, cf.Architecture)
	}
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/usr/local/bin/"+b.Name {
		t.Errorf("%s %s: entrypoint %q", b.Name, p, got)
	}
	wantUser := images.NonRoot
	if b.RootReason != "" {
		wantUser = images.Root
	}
	if cf.Config.User != wantUser || cf.Config.User != b.User {
		t.Errorf("%s %s: user %q, want %q (root only with a documented reason)", b.Name, p, cf.Config.User, wantUser)
	}
	labels := map[string]string{
		images.LabelSource:   images.SourceURL,
		images.LabelVersion:  built.Info.Version,
		images.LabelRevision: built.Info.Commit,
	}
	for k, want := range labels {
		if got := cf.Config.Labels[k]; got != want || want == "" {
			t.Errorf("%s %s: label %s = %q, want %q", b.Name, p, k, got, want)
		}
	}
}

// fsEntry is one file of an image's flattened file system.
type fsEntry struct {
	mode int64
	data string
}

// readFS returns the image's flattened file system (small files only).
func readFS(img v1.Image) (map[string]fsEntry, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]fsEntry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		e := fsEntry{mode: h.Mode}
		if h.Typeflag == tar.TypeReg && h.Size < 1<<20 {
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			e.data = string(data)
		}
		files[strings.TrimSuffix(h.Name, "/")] = e
	}
}

// extractFile copies the image's file path into dst, executable.
func extractFile(img v1.Image, path, dst string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			return fmt.Errorf("%s not in the image: %w", path, err)
		}
		if h.Name != strings.TrimPrefix(path, "/") {
			continue
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			return errors.Join(err, f.Close())
		}
		return f.Close()
	}
}
