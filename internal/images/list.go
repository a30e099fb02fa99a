// Package images builds svidkit's container images without Docker and
// without pulling a base image: static binaries (CGO off) on a
// scratch-style root file system that carries only CA certificates,
// /etc/passwd and /etc/group, and /tmp. The image format is
// go-containerregistry's (as ko and crane use it): one multi-arch OCI
// index per binary, written as an OCI image layout and as per-platform
// tarballs that docker load, podman load and ctr images import accept.
//
// List is the one list of images: tools/images builds it, the Dockerfile
// test (and the deploy/k8s manifest test) read it. The release builder
// (tools/release) reuses BuildBinary and Stamp.
package images

// Repository is the registry path the images are named under.
const Repository = "ghcr.io/svidkit"

// SourceURL is the org.opencontainers.image.source label.
const SourceURL = "https://github.com/svidkit/svidkit"

// Users of the images. NonRoot is distroless's nonroot (65532), written
// numerically so Kubernetes' runAsNonRoot can check it without reading the
// image's /etc/passwd.
const (
	NonRoot = "65532:65532"
	Root    = "0:0"
)

// Image is one binary and the image that runs it.
type Image struct {
	// Name is the binary's and the image's name (svidkit-server).
	Name string
	// Package is the main package, relative to the module root (./cmd/server).
	Package string
	// User is the image's default user: NonRoot unless the component
	// needs root, which RootReason then explains.
	User       string
	RootReason string
}

// Ref is the image's name with tag: ghcr.io/svidkit/svidkit-server:v0.1.0.
func (i Image) Ref(tag string) string { return Repository + "/" + i.Name + ":" + tag }

// Entrypoint is the binary's path in the image.
func (i Image) Entrypoint() string { return "/usr/local/bin/" + i.Name }

// List returns the images svidkit ships, one per binary. Adding a binary
// is one line here; the Dockerfile must then gain its stage (its test
// says so).
func List() []Image {
	return []Image{
		{Name: "svidkit-server", Package: "./cmd/server", User: NonRoot},
		{Name: "svidkit-agent", Package: "./cmd/agent", User: Root, RootReason: "creates the Workload API socket in a root-owned hostPath directory and reads /proc of workloads running as any uid for workload attestation (SPIRE's agent runs as root for the same reasons)"},
		{Name: "svidkit-helper", Package: "./cmd/helper", User: NonRoot},
		{Name: "svidkit-sds", Package: "./cmd/sds", User: NonRoot},
		{Name: "svidkit-csi", Package: "./cmd/csi", User: Root, RootReason: "bind-mounts the agent's socket directory into pod volumes (mount needs CAP_SYS_ADMIN in the host's mount namespace) and serves the kubelet's root-owned plugin socket directory, as spiffe-csi-driver runs privileged"},
	}
}

// Platform is an OS/architecture pair the images are built for.
type Platform struct{ OS, Arch string }

// String is "linux/amd64".
func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Platforms returns the platforms of every image's index.
func Platforms() []Platform {
	return []Platform{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}}
}
