// Package k8s_test checks the Kubernetes manifests of deploy/k8s and
// examples/*: every document decodes strictly into its k8s.io/api type,
// every kustomization lists exactly its directory's manifests, every
// embedded server.conf, agent.conf and helper configuration loads with
// svidkit's own loaders, and the names that must agree between objects
// (service accounts, RBAC, token audiences, cluster names, socket, bundle,
// certificate and pid file paths, registration entries) do.
package k8s_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/yaml"
)

// manifestRoots are the trees, relative to the repository root, whose YAML
// files are Kubernetes manifests.
var manifestRoots = []string{"deploy", "examples"}

// notManifests are YAML files under manifestRoots that are not Kubernetes
// manifests, with where they are checked instead. Any other YAML file must
// decode as Kubernetes objects.
var notManifests = map[string]string{
	"examples/envoy/envoy.yaml": "Envoy bootstrap, checked by examples/envoy/example_test.go",
}

// clusterScoped lists the kinds these manifests may use that have no
// namespace; every other kind must name one.
var clusterScoped = map[string]bool{
	"Namespace":          true,
	"ClusterRole":        true,
	"ClusterRoleBinding": true,
	"PersistentVolume":   true,
	"StorageClass":       true,
	"CSIDriver":          true,
	// deploy/k8s/crds and the registrar's resources.
	"CustomResourceDefinition":    true,
	"ClusterSPIFFEID":             true,
	"ClusterStaticEntry":          true,
	"ClusterFederatedTrustDomain": true,
}

// object is one decoded document of a manifest file.
type object struct {
	// file is the path relative to the repository root; doc counts the
	// file's documents from 1.
	file string
	doc  int
	obj  runtime.Object
	meta metav1.Object
	gvk  schema.GroupVersionKind
}

// where names the document in messages.
func (o object) where() string {
	return fmt.Sprintf("%s (document %d, %s %s)", o.file, o.doc, o.gvk.Kind, o.id())
}

// id is namespace/name, or name for cluster-scoped objects.
func (o object) id() string {
	if ns := o.meta.GetNamespace(); ns != "" {
		return ns + "/" + o.meta.GetName()
	}
	return o.meta.GetName()
}

// manifestSet is every object of every manifest file.
type manifestSet struct {
	root    string
	files   []string // manifest files, relative to root
	objects []object
}

// repoRoot returns the repository root: the closest parent of the test's
// directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := findRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// findRoot returns the closest directory at or above dir holding go.mod.
func findRoot(dir string) (string, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test directory")
		}
		dir = parent
	}
}

// manifestFiles returns the YAML files under manifestRoots, relative to
// root and slash-separated, kustomization files and testdata directories
// (documents tests apply on purpose, invalid ones among them) excluded.
func manifestFiles(root string) ([]string, error) {
	var files []string
	for _, top := range manifestRoots {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !isYAML(path) || isKustomization(path) {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if _, skip := notManifests[rel]; !skip {
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(files)
	return files, nil
}

func isYAML(path string) bool {
	ext := filepath.Ext(path)
	return ext == ".yaml" || ext == ".yml"
}

func isKustomization(path string) bool {
	switch filepath.Base(path) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// docSeparator matches a YAML document separator line.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocuments splits a multi-document YAML file. Documents holding only
// comments and blank lines are dropped; the returned numbers count every
// document from 1, so messages point at the right one.
func splitDocuments(data []byte) (docs [][]byte, numbers []int) {
	for i, part := range docSeparator.Split(string(data), -1) {
		if isBlankYAML(part) {
			continue
		}
		docs = append(docs, []byte(part))
		numbers = append(numbers, i+1)
	}
	return docs, numbers
}

func isBlankYAML(s string) bool {
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// strictSerializer is apimachinery's YAML serializer in strict mode, the
// decoding the API server applies with fieldValidation=Strict: field names
// are case-sensitive (encoding/json alone would accept hostPid for
// hostPID), unknown and duplicate fields are errors.
var strictSerializer = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, manifestScheme, manifestScheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// decodeObject decodes one document strictly into the k8s.io/api type its
// apiVersion and kind name: unknown kinds, unknown, duplicate or
// wrongly-cased fields and objects without a name are errors.
func decodeObject(doc []byte) (runtime.Object, schema.GroupVersionKind, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, schema.GroupVersionKind{}, fmt.Errorf("not a YAML object: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, schema.GroupVersionKind{}, errors.New("missing apiVersion or kind")
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	if !manifestScheme.Recognizes(gvk) {
		return nil, gvk, fmt.Errorf("unknown kind %s %s", tm.APIVersion, tm.Kind)
	}
	obj, _, err := strictSerializer.Decode(doc, &gvk, nil)
	if err != nil {
		return nil, gvk, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	meta, ok := obj.(metav1.Object)
	if !ok {
		return nil, gvk, fmt.Errorf("%s has no object metadata", tm.Kind)
	}
	if meta.GetName() == "" {
		return nil, gvk, fmt.Errorf("%s without metadata.name", tm.Kind)
	}
	if clusterScoped[tm.Kind] != (meta.GetNamespace() == "") {
		if clusterScoped[tm.Kind] {
			return nil, gvk, fmt.Errorf("%s %s is cluster-scoped but names namespace %q", tm.Kind, meta.GetName(), meta.GetNamespace())
		}
		return nil, gvk, fmt.Errorf("%s %s names no namespace (the kustomizations set none)", tm.Kind, meta.GetName())
	}
	return obj, gvk, nil
}

// loadFile decodes every document of one manifest file.
func loadFile(root, file string) ([]object, error) {
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return nil, err
	}
	docs, numbers := splitDocuments(data)
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no Kubernetes objects", file)
	}
	var (
		out  []object
		errs []error
	)
	for i, doc := range docs {
		obj, gvk, err := decodeObject(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s document %d: %w", file, numbers[i], err))
			continue
		}
		out = append(out, object{file: file, doc: numbers[i], obj: obj, meta: obj.(metav1.Object), gvk: gvk})
	}
	return out, errors.Join(errs...)
}

// readManifests decodes every manifest under root's manifestRoots.
func readManifests(root string) (*manifestSet, error) {
	files, err := manifestFiles(root)
	if err != nil {
		return nil, err
	}
	s := &manifestSet{root: root, files: files}
	var errs []error
	for _, f := range files {
		objs, err := loadFile(root, f)
		errs = append(errs, err)
		s.objects = append(s.objects, objs...)
	}
	return s, errors.Join(errs...)
}

// loadManifests decodes the manifests, failing the test if any document
// does not decode (TestManifestsDecodeStrictly reports each one
// separately). Decoding takes milliseconds, so every test gets its own
// copy and may change it.
func loadManifests(t testing.TB) *manifestSet {
	t.Helper()
	s, err := readManifests(repoRoot(t))
	if err != nil {
		t.Fatalf("manifests do not decode: %v", err)
	}
	return s
}

// under returns the objects of files below dir (slash-separated, relative
// to the repository root).
func (s *manifestSet) under(dir string) *manifestSet {
	out := &manifestSet{root: s.root}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for _, f := range s.files {
		if strings.HasPrefix(f, prefix) {
			out.files = append(out.files, f)
		}
	}
	for _, o := range s.objects {
		if strings.HasPrefix(o.file, prefix) {
			out.objects = append(out.objects, o)
		}
	}
	return out
}

// all returns the objects of type T with their places.
func all[T runtime.Object](s *manifestSet) []placed[T] {
	var out []placed[T]
	for _, o := range s.objects {
		if v, ok := o.obj.(T); ok {
			out = append(out, placed[T]{object: o, v: v})
		}
	}
	return out
}

// placed is a typed object with its place in the manifests.
type placed[T any] struct {
	object
	v T
}

// find returns the object of type T called namespace/name.
func find[T runtime.Object](s *manifestSet, namespace, name string) (placed[T], bool) {
	for _, p := range all[T](s) {
		if p.meta.GetNamespace() == namespace && p.meta.GetName() == name {
			return p, true
		}
	}
	return placed[T]{}, false
}

// readRepoFile reads a file relative to the repository root.
func readRepoFile(t testing.TB, root, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
}
