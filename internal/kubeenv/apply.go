package kubeenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// applyTimeout bounds one Apply or InstallCRDs call.
const applyTimeout = time.Minute

// fieldManager owns the fields that Apply sets.
const fieldManager = "kubeenv"

// Apply server-side applies, as the admin, every object of the YAML (or
// JSON) manifests at paths, in order; a file may hold several documents.
// Namespaced objects without a namespace go to "default".
func (e *Env) Apply(t testing.TB, paths ...string) {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, p := range paths {
		o, err := readManifests(p)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	if _, err := e.apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
}

// CreateFile creates, as the admin, the objects of one manifest file the
// way `kubectl create` (and `kubectl apply` of a new object) sends them:
// a POST with fieldValidation=Strict, so that unknown fields are refused
// and schema errors come back as 422 Invalid naming the field. Unlike
// Apply it returns the error instead of failing the test, for manifests
// the apiserver must refuse; on success it returns the objects as stored.
func (e *Env) CreateFile(ctx context.Context, path string) ([]*unstructured.Unstructured, error) {
	objs, err := readManifests(path)
	if err != nil {
		return nil, err
	}
	return e.each(ctx, objs, func(res dynamic.ResourceInterface, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		return res.Create(ctx, obj, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
	})
}

// apply server-side applies objs and returns the apiserver's answers.
func (e *Env) apply(ctx context.Context, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	return e.each(ctx, objs, func(res dynamic.ResourceInterface, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		return res.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	})
}

// each calls write for every object, in order, with the dynamic client
// of its resource (namespaced objects without a namespace go to
// "default"), and returns the apiserver's answers.
func (e *Env) each(ctx context.Context, objs []*unstructured.Unstructured,
	write func(dynamic.ResourceInterface, *unstructured.Unstructured) (*unstructured.Unstructured, error)) ([]*unstructured.Unstructured, error) {
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		return nil, fmt.Errorf("kubeenv: dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(e.Config)
	if err != nil {
		return nil, fmt.Errorf("kubeenv: discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			// A kind defined by a CRD applied earlier in this call.
			mapper.Reset()
			mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			return nil, fmt.Errorf("kubeenv: %s %q: %w", gvk.Kind, obj.GetName(), err)
		}
		res := dynamic.ResourceInterface(dyn.Resource(mapping.Resource))
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(metav1.NamespaceDefault)
			}
			res = dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		}
		got, err := write(res, obj)
		if err != nil {
			return nil, fmt.Errorf("kubeenv: write %s %q: %w", gvk.Kind, obj.GetName(), err)
		}
		out = append(out, got)
	}
	return out, nil
}

// readManifests decodes every non-empty document of a YAML or JSON file.
func readManifests(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kubeenv: read manifest: %w", err)
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("kubeenv: %s: document %d: %w", path, doc, err)
		}
		if len(m) == 0 {
			continue // only comments
		}
		obj := &unstructured.Unstructured{Object: m}
		if obj.GetKind() == "" || obj.GetAPIVersion() == "" || obj.GetName() == "" {
			return nil, fmt.Errorf("kubeenv: %s: document %d: apiVersion, kind and metadata.name are required", path, doc)
		}
		objs = append(objs, obj)
	}
}
