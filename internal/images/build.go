package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/svidkit/svidkit/pkg/version"
)

// OCI annotation and label keys the images carry.
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelVersion  = "org.opencontainers.image.version"
	LabelRevision = "org.opencontainers.image.revision"
	LabelTitle    = "org.opencontainers.image.title"
	// RefName names an index in an OCI layout (ghcr.io/svidkit/x:tag).
	RefName = "org.opencontainers.image.ref.name"
)

// Config says what Build builds and where.
type Config struct {
	// Root is the module root (the directory holding go.mod).
	Root string
	// Out receives, per image, an OCI image layout Out/<name>/ holding
	// the multi-arch index and a docker-format tarball per platform
	// Out/<name>_<os>_<arch>.tar; the binaries stay in
	// Out/bin/<os>_<arch>/.
	Out string
	// Images and Platforms default to List() and Platforms().
	Images    []Image
	Platforms []Platform
	// CABundle is the PEM file copied into the images (DefaultCABundle).
	CABundle string
	// Info labels the images and is the binaries' -ldflags fallback; the
	// zero value means Stamp(Root).
	Info version.Info
}

// Built is one image Build wrote.
type Built struct {
	Image
	// Ref is the image's name and tag.
	Ref string
	// Layout is the OCI image layout directory.
	Layout string
	// Tarballs and Binaries are the per-platform tarball and binary.
	Tarballs map[Platform]string
	Binaries map[Platform]string
	// Sizes is each platform image's compressed size (layers, config and
	// manifest), what a registry stores and a node pulls.
	Sizes map[Platform]int64
}

// Result is what Build wrote.
type Result struct {
	// Tag is the images' tag (see Tag); Info the version they carry.
	Tag       string
	Info      version.Info
	Platforms []Platform
	Images    []Built
}

// Build builds every image of cfg for every platform.
func Build(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Images == nil {
		cfg.Images = List()
	}
	if cfg.Platforms == nil {
		cfg.Platforms = Platforms()
	}
	if cfg.CABundle == "" {
		cfg.CABundle = DefaultCABundle
	}
	if cfg.Info == (version.Info{}) {
		info, err := Stamp(ctx, cfg.Root)
		if err != nil {
			return Result{}, err
		}
		cfg.Info = info
	}
	base, err := baseLayer(cfg.CABundle)
	if err != nil {
		return Result{}, err
	}
	res := Result{Tag: Tag(cfg.Info), Info: cfg.Info, Platforms: cfg.Platforms}
	for _, img := range cfg.Images {
		b, err := buildImage(ctx, cfg, base, img, res.Tag)
		if err != nil {
			return Result{}, err
		}
		res.Images = append(res.Images, b)
	}
	return res, nil
}

// buildImage builds img for every platform and writes its layout and
// tarballs.
func buildImage(ctx context.Context, cfg Config, base v1.Layer, img Image, tag string) (Built, error) {
	b := Built{
		Image: img, Ref: img.Ref(tag), Layout: filepath.Join(cfg.Out, img.Name),
		Tarballs: map[Platform]string{}, Binaries: map[Platform]string{}, Sizes: map[Platform]int64{},
	}
	ref, err := name.NewTag(b.Ref)
	if err != nil {
		return Built{}, fmt.Errorf("images: image name: %w", err)
	}
	var idx v1.ImageIndex = empty.Index
	for _, p := range cfg.Platforms {
		bin, err := BuildBinary(ctx, cfg.Root, filepath.Join(cfg.Out, "bin", p.OS+"_"+p.Arch), img, p, cfg.Info)
		if err != nil {
			return Built{}, err
		}
		b.Binaries[p] = bin
		image, err := platformImage(base, img, bin, p, cfg.Info)
		if err != nil {
			return Built{}, err
		}
		tb := filepath.Join(cfg.Out, img.Name+"_"+p.OS+"_"+p.Arch+".tar")
		if err := tarball.WriteToFile(tb, ref, image); err != nil {
			return Built{}, fmt.Errorf("images: write %s: %w", tb, err)
		}
		b.Tarballs[p] = tb
		if b.Sizes[p], err = compressedSize(image); err != nil {
			return Built{}, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        image,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}
	if err := writeLayout(b.Layout, idx, b.Ref); err != nil {
		return Built{}, err
	}
	return b, nil
}

// platformImage assembles img's image for p: the shared base layer, the
// binary's layer and a config naming entrypoint, user and labels.
func platformImage(base v1.Layer, img Image, bin string, p Platform, info version.Info) (v1.Image, error) {
	binLayer, err := binaryLayer(img, bin)
	if err != nil {
		return nil, err
	}
	cf := &v1.ConfigFile{
		OS:           p.OS,
		Architecture: p.Arch,
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: []string{img.Entrypoint()},
			User:       img.User,
			WorkingDir: "/",
			Env:        []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=/" + CABundlePath},
			Labels: map[string]string{
				LabelSource:   SourceURL,
				LabelVersion:  info.Version,
				LabelRevision: info.Commit,
				LabelTitle:    img.Name,
			},
		},
	}
	image, err := mutate.ConfigFile(empty.Image, cf)
	if err != nil {
		return nil, fmt.Errorf("images: %s config: %w", img.Name, err)
	}
	image = mutate.ConfigMediaType(mutate.MediaType(image, types.OCIManifestSchema1), types.OCIConfigJSON)
	image, err = mutate.AppendLayers(image, base, binLayer)
	if err != nil {
		return nil, fmt.Errorf("images: %s layers: %w", img.Name, err)
	}
	return image, nil
}

// writeLayout replaces dir with an OCI image layout holding idx under ref.
func writeLayout(dir string, idx v1.ImageIndex, ref string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("images: layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{RefName: ref})); err != nil {
		return fmt.Errorf("images: layout %s: %w", dir, err)
	}
	return nil
}

// compressedSize adds up the image's layers, config and manifest.
func compressedSize(image v1.Image) (int64, error) {
	m, err := image.Manifest()
	if err != nil {
		return 0, fmt.Errorf("images: manifest: %w", err)
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	raw, err := image.RawManifest()
	if err != nil {
		return 0, fmt.Errorf("images: manifest: %w", err)
	}
	return size + int64(len(raw)), nil
}
