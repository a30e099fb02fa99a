package k8s_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/svidkit/svidkit/internal/images"
	"github.com/svidkit/svidkit/internal/prereq"
)

func TestManifestsDecodeStrictly(t *testing.T) {
	root := repoRoot(t)
	files, err := manifestFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deploy/k8s/", "examples/legacy-db/k8s/", "examples/envoy/"} {
		if !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, want) }) {
			t.Errorf("no manifests found under %s", want)
		}
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			objs, err := loadFile(root, f)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, o := range objs {
				key := o.gvk.Kind + " " + o.id()
				if prev, dup := seen[key]; dup {
					t.Errorf("%s: %s is also defined in %s", o.where(), key, prev)
				}
				seen[key] = o.where()
			}
		})
	}
}

// TestStrictDecoderRejects shows that the decoder the manifests pass is
// strict: each of these documents is a plausible mistake it must refuse.
func TestStrictDecoderRejects(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown top-level field", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\nspec: {}\n", `unknown field "spec"`},
		{"misspelled nested field", "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: a, namespace: b}\nspec:\n  template:\n    spec:\n      hostPid: true\n", `unknown field "spec.template.spec.hostPid"`},
		{"unknown kind", "apiVersion: v1\nkind: Kustomization\nmetadata: {name: a}\n", "unknown kind"},
		{"unknown apiVersion", "apiVersion: apps/v2\nkind: Deployment\nmetadata: {name: a, namespace: b}\n", "unknown kind"},
		{"duplicate key", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: b}\nmetadata: {name: c, namespace: b}\n", `key "metadata" already set`},
		{"wrong value type", "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: b}\nspec:\n  ports: [{port: grpc}]\n", "cannot unmarshal"},
		{"no name", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {namespace: b}\n", "without metadata.name"},
		{"no namespace", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n", "names no namespace"},
		{"namespace on a cluster-scoped kind", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: a, namespace: b}\n", "cluster-scoped"},
		{"no kind", "apiVersion: v1\nmetadata: {name: a}\n", "missing apiVersion or kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeObject([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// kustomization is the part of kustomize's Kustomization these manifests
// use; any other field fails the strict decode, so a typo cannot hide a
// resource list.
type kustomization struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Resources  []string         `json:"resources"`
	Components []string         `json:"components"`
	Images     []kustomizeImage `json:"images"`
}

// kustomizeImage is an entry of a kustomization's images: list.
type kustomizeImage struct {
	Name   string `json:"name"`
	NewTag string `json:"newTag"`
}

// readKustomization strictly decodes dir's kustomization.yaml.
func readKustomization(root, dir string) (kustomization, error) {
	var k kustomization
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(dir), "kustomization.yaml"))
	if err != nil {
		return k, err
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return k, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	return k, nil
}

// kustomizationDirs returns the directories (relative to root,
// slash-separated) holding a kustomization.yaml.
func kustomizationDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	for _, top := range manifestRoots {
		err := filepath.WalkDir(filepath.Join(root, top), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isKustomization(p) {
				rel, err := filepath.Rel(root, filepath.Dir(p))
				if err != nil {
					return err
				}
				dirs = append(dirs, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

func TestKustomizations(t *testing.T) {
	root := repoRoot(t)
	files, err := manifestFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	dirs := kustomizationDirs(t, root)
	for _, want := range []string{"deploy/k8s", "examples/legacy-db/k8s"} {
		if !slices.Contains(dirs, want) {
			t.Errorf("%s has no kustomization.yaml", want)
		}
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			if err := checkKustomization(root, dir, files); err != nil {
				t.Error(err)
			}
		})
	}
}

// checkKustomization checks dir's kustomization.yaml against the manifest
// files (relative to root): every resource it lists exists and is a
// manifest (or a kustomization directory), none twice, and every manifest
// in dir is listed.
func checkKustomization(root, dir string, files []string) error {
	var p problems
	k, err := readKustomization(root, dir)
	if err != nil {
		return err
	}
	switch {
	case k.APIVersion == "kustomize.config.k8s.io/v1beta1" && k.Kind == "Kustomization":
	case k.APIVersion == "kustomize.config.k8s.io/v1alpha1" && k.Kind == "Component":
	default:
		p.add("%s/kustomization.yaml: apiVersion %q kind %q, want kustomize.config.k8s.io/v1beta1 Kustomization or v1alpha1 Component", dir, k.APIVersion, k.Kind)
	}
	for _, c := range k.Components {
		ck, err := readKustomization(root, path.Join(dir, c))
		switch {
		case err != nil:
			p.add("%s/kustomization.yaml lists component %s: %w", dir, c, err)
		case ck.Kind != "Component":
			p.add("%s/kustomization.yaml lists component %s, which is a %s", dir, c, ck.Kind)
		}
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		clean := path.Join(dir, r)
		if listed[clean] {
			p.add("%s/kustomization.yaml lists %s twice", dir, r)
		}
		listed[clean] = true
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(clean)))
		switch {
		case err != nil:
			p.add("%s/kustomization.yaml lists %s: %w", dir, r, err)
		case fi.IsDir():
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(clean), "kustomization.yaml")); err != nil {
				p.add("%s/kustomization.yaml lists directory %s, which has no kustomization.yaml", dir, r)
			}
		case !slices.Contains(files, clean):
			p.add("%s/kustomization.yaml lists %s, which is not a manifest this test decodes", dir, r)
		}
	}
	for _, f := range files {
		if path.Dir(f) == dir && !listed[f] {
			p.add("%s is in %s but not in its kustomization.yaml resources", f, dir)
		}
	}
	return p.err()
}

func TestCheckKustomizationRejects(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "deploy", "x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- a.yaml\n- a.yaml\n- gone.yaml\n",
		"a.yaml":             "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
		"b.yaml":             "apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := checkKustomization(root, "deploy/x", []string{"deploy/x/a.yaml", "deploy/x/b.yaml"})
	for _, want := range []string{"lists a.yaml twice", "lists gone.yaml", "deploy/x/b.yaml is in deploy/x but not in its kustomization.yaml"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkKustomization: %v, want an error containing %q", err, want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresource:\n- a.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkKustomization(root, "deploy/x", []string{"deploy/x/a.yaml"}); err == nil || !strings.Contains(err.Error(), `unknown field "resource"`) {
		t.Errorf("checkKustomization of a misspelled resources key: %v", err)
	}
}

// TestKustomizeBuilds renders each kustomization with kubectl's built-in
// kustomize, when kubectl is installed, decodes the result strictly and
// checks that every svidkit image is rendered with deploy/images's tag.
// Components (deploy/images) render only inside a kustomization.
func TestKustomizeBuilds(t *testing.T) {
	// CI machines must ship kubectl (.ci/run does not install it).
	// Elsewhere TestKustomizations still checks the resource lists.
	kubectl := prereq.Tool(t, "kubectl", "kubectl builds the kustomizations")
	root := repoRoot(t)
	comp, err := readKustomization(root, imagesComponent)
	if err != nil || len(comp.Images) == 0 {
		t.Fatalf("%s: %v", imagesComponent, err)
	}
	svidkitImage := regexp.MustCompile(`image: *(` + regexp.QuoteMeta(images.Repository) + `/\S+)`)
	for _, dir := range kustomizationDirs(t, root) {
		if k, err := readKustomization(root, dir); err == nil && k.Kind == "Component" {
			continue
		}
		t.Run(dir, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), kubectl, "kustomize", filepath.Join(root, filepath.FromSlash(dir)))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kubectl kustomize %s: %v: %s", dir, err, stderr.String())
			}
			docs, _ := splitDocuments(out)
			var errs []error
			for _, d := range docs {
				if _, _, err := decodeObject(d); err != nil {
					errs = append(errs, err)
				}
			}
			if err := errors.Join(errs...); err != nil {
				t.Errorf("kubectl kustomize %s renders objects that do not decode: %v", dir, err)
			}
			if len(docs) == 0 {
				t.Errorf("kubectl kustomize %s renders nothing", dir)
			}
			for _, m := range svidkitImage.FindAllSubmatch(out, -1) {
				if _, tag, _ := strings.Cut(string(m[1]), ":"); tag != comp.Images[0].NewTag {
					t.Errorf("kubectl kustomize %s renders %s, want tag %s from %s", dir, m[1], comp.Images[0].NewTag, imagesComponent)
				}
			}
		})
	}
}
