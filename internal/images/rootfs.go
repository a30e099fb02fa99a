package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultCABundle is where the CA certificates come from: the build
// machine's bundle, which Debian's ca-certificates package (and every
// Debian or Ubuntu CI runner, and golang images) keeps current. It is the
// file distroless-static ships too. The alternative, a Go module carrying
// Mozilla's roots (golang.org/x/crypto/x509roots/fallback), would add a
// dependency to the binaries' module graph for data the build machine
// already has; its roots are not exposed as a PEM file either.
const DefaultCABundle = "/etc/ssl/certs/ca-certificates.crt"

// CABundlePath is the bundle's path in the images (Go's crypto/x509 reads
// it on Linux without SSL_CERT_FILE).
const CABundlePath = "etc/ssl/certs/ca-certificates.crt"

// passwd and group name root and distroless's nonroot (65532) user.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// tarEntry is one file or directory of a layer.
type tarEntry struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte // nil for a directory
}

// baseLayer returns the layer every image shares: /etc/passwd,
// /etc/group, the CA bundle read from caFile, /tmp (1777) and nonroot's
// home directory.
func baseLayer(caFile string) (v1.Layer, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("images: CA certificates (set -ca-bundle): %w", err)
	}
	return layer([]tarEntry{
		{name: "etc/", mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: CABundlePath, mode: 0o644, data: ca},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, uid: 65532, gid: 65532},
		{name: "tmp/", mode: 0o1777},
	})
}

// binaryLayer returns the layer holding img's binary, read from path.
func binaryLayer(img Image, path string) (v1.Layer, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	return layer([]tarEntry{
		{name: "usr/", mode: 0o755},
		{name: "usr/local/", mode: 0o755},
		{name: "usr/local/bin/", mode: 0o755},
		{name: img.Entrypoint()[1:], mode: 0o755, data: bin},
	})
}

// layer writes entries as an uncompressed tar and wraps it as an OCI
// layer (gzip-compressed by the library).
func layer(entries []tarEntry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		// The epoch as every modification time: the layers (and the image
		// digests) depend only on their content.
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if e.data == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("images: layer entry %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("images: layer entry %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("images: layer: %w", err)
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
