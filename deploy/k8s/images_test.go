package k8s_test

import (
	"bufio"
	"bytes"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/images"
)

// imagesComponent is the kustomize component that sets the svidkit image
// tag for every kustomization.
const imagesComponent = "deploy/images"

// releaseTag is the form of the tag the manifests deploy: a release, never
// latest or a development build.
var releaseTag = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$`)

// TestImageReferences checks that the manifests name the images `go tool
// task images` builds (internal/images.List), without a tag of their own,
// and that one kustomize component, included by every kustomization that
// deploys them, sets one release tag: the newest release in CHANGELOG.md.
func TestImageReferences(t *testing.T) {
	root := repoRoot(t)
	comp, err := readKustomization(root, imagesComponent)
	if err != nil {
		t.Fatal(err)
	}
	if comp.Kind != "Component" {
		t.Fatalf("%s is a %s, want a kustomize Component", imagesComponent, comp.Kind)
	}
	var built, listed []string
	for _, img := range images.List() {
		built = append(built, images.Repository+"/"+img.Name)
	}
	tag := ""
	for _, ki := range comp.Images {
		listed = append(listed, ki.Name)
		if tag == "" {
			tag = ki.NewTag
		}
		if ki.NewTag != tag {
			t.Errorf("%s: %s has tag %q, %s has %q: one tag for every image", imagesComponent, comp.Images[0].Name, tag, ki.Name, ki.NewTag)
		}
	}
	if !slices.Equal(listed, built) {
		t.Errorf("%s sets tags for %q, want the images internal/images builds: %q", imagesComponent, listed, built)
	}
	if !releaseTag.MatchString(tag) {
		t.Errorf("%s: tag %q is not a release version (vX.Y.Z)", imagesComponent, tag)
	}
	if want := newestRelease(t, readRepoFile(t, root, "CHANGELOG.md")); tag != want {
		t.Errorf("%s: tag %q, but CHANGELOG.md's newest release is %q", imagesComponent, tag, want)
	}

	s := loadManifests(t)
	dirs := map[string]bool{} // directories of manifests that deploy svidkit images
	for _, p := range pods(s) {
		for _, c := range p.containers() {
			name, ok := strings.CutPrefix(c.c.Image, images.Repository+"/")
			if !ok {
				continue
			}
			dirs[path.Dir(c.pod.file)] = true
			if strings.ContainsAny(name, ":@") {
				t.Errorf("%s: image %s carries its own tag or digest; the tag is set in %s", c.where(), c.c.Image, imagesComponent)
			}
			if !slices.Contains(built, c.c.Image) {
				t.Errorf("%s: image %s is not one internal/images builds (%q)", c.where(), c.c.Image, built)
			}
		}
	}
	if len(dirs) == 0 {
		t.Fatal("no manifest deploys a svidkit image")
	}
	for dir := range dirs {
		k, err := readKustomization(root, dir)
		if err != nil {
			t.Errorf("%s deploys svidkit images but: %v", dir, err)
			continue
		}
		if !slices.ContainsFunc(k.Components, func(c string) bool { return path.Join(dir, c) == imagesComponent }) {
			t.Errorf("%s/kustomization.yaml deploys svidkit images without the %s component (components %q)", dir, imagesComponent, k.Components)
		}
	}
}

// newestRelease returns the version of the first "## [vX.Y.Z]" heading.
func newestRelease(t *testing.T, changelog []byte) string {
	t.Helper()
	heading := regexp.MustCompile(`^## \[(v\d+\.\d+\.\d+[^\]]*)\]`)
	sc := bufio.NewScanner(bytes.NewReader(changelog))
	for sc.Scan() {
		if m := heading.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	t.Fatal("CHANGELOG.md has no release heading (## [vX.Y.Z] - date)")
	return ""
}
