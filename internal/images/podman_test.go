package images_test

import (
	"encoding/json"
	"os/exec"
	"runtime"
	"testing"

	"github.com/svidkit/svidkit/internal/images"
	"github.com/svidkit/svidkit/internal/prereq"
)

// TestPodmanLoad loads each host-architecture docker tarball with the real
// `podman load` (Debian's podman, vfs storage in a temp directory, no
// daemon) and checks what podman reports: the tag, architecture,
// entrypoint, user and version label. Running a container is left out:
// the sandboxes this runs in refuse the OCI runtime's setrlimit calls;
// TestTarballs runs each binary taken out of its image instead.
func TestPodmanLoad(t *testing.T) {
	podman := prereq.Tool(t, "podman", "apt-get install podman")
	dir := t.TempDir()
	base := []string{"--root", dir + "/root", "--runroot", dir + "/run", "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"}
	host := images.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	for _, b := range built.Images {
		t.Run(b.Name, func(t *testing.T) {
			tar, ok := b.Tarballs[host]
			if !ok {
				t.Skipf("no %s image", host)
			}
			if out, err := exec.Command(podman, append(base, "load", "-q", "-i", tar)...).CombinedOutput(); err != nil {
				t.Fatalf("podman load %s: %v\n%s", tar, err, out)
			}
			out, err := exec.Command(podman, append(base, "image", "inspect", b.Ref)...).Output()
			if err != nil {
				t.Fatalf("podman image inspect %s: %v", b.Ref, err)
			}
			var got []struct {
				Architecture string
				Os           string
				Config       struct {
					User       string
					Entrypoint []string
					Labels     map[string]string
				}
			}
			if err := json.Unmarshal(out, &got); err != nil || len(got) != 1 {
				t.Fatalf("podman image inspect: %v\n%s", err, out)
			}
			g := got[0]
			if g.Os != host.OS || g.Architecture != host.Arch {
				t.Errorf("podman sees %s/%s, want %s", g.Os, g.Architecture, host)
			}
			if len(g.Config.Entrypoint) != 1 || g.Config.Entrypoint[0] != b.Entrypoint() {
				t.Errorf("podman sees entrypoint %q, want %q", g.Config.Entrypoint, b.Entrypoint())
			}
			if g.Config.User != b.User {
				t.Errorf("podman sees user %q, want %q", g.Config.User, b.User)
			}
			if v := g.Config.Labels[images.LabelVersion]; v != built.Info.Version {
				t.Errorf("podman sees version label %q, want %q", v, built.Info.Version)
			}
		})
	}
}

// TestSkopeoInspectLayout reads each OCI layout with the real skopeo (the
// containers/image library that podman and CRI-O use) for every platform
// of its multi-arch index.
func TestSkopeoInspectLayout(t *testing.T) {
	skopeo := prereq.Tool(t, "skopeo", "apt-get install skopeo")
	for _, b := range built.Images {
		for _, p := range built.Platforms {
			t.Run(b.Name+"/"+p.String(), func(t *testing.T) {
				out, err := exec.Command(skopeo, "inspect", "--override-os", p.OS, "--override-arch", p.Arch, "oci:"+b.Layout).Output()
				if err != nil {
					t.Fatalf("skopeo inspect oci:%s: %v", b.Layout, err)
				}
				var got struct {
					Architecture string
					Os           string
					Labels       map[string]string
				}
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("skopeo inspect: %v\n%s", err, out)
				}
				if got.Os != p.OS || got.Architecture != p.Arch {
					t.Errorf("skopeo sees %s/%s, want %s", got.Os, got.Architecture, p)
				}
				if got.Labels[images.LabelRevision] != built.Info.Commit {
					t.Errorf("skopeo sees revision label %q, want %q", got.Labels[images.LabelRevision], built.Info.Commit)
				}
			})
		}
	}
}
