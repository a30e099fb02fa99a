package kubeenv

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	watchtools "k8s.io/client-go/tools/watch"
)

// crdResource is apiextensions.k8s.io/v1 customresourcedefinitions.
var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs applies every CustomResourceDefinition in the *.yaml and
// *.yml files of dir (other kinds there are left alone, so it can point at
// a directory of deployment manifests; its kustomization.yaml is skipped)
// and waits until each is
// Established, i.e. its resources are served. A directory without a CRD
// fails the test.
func (e *Env) InstallCRDs(t testing.TB, dir string) {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatalf("kubeenv: %v", err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	var crds []*unstructured.Unstructured
	for _, f := range files {
		if name := filepath.Base(f); name == "kustomization.yaml" || name == "kustomization.yml" {
			continue // kustomize's own file, not a Kubernetes object
		}
		objs, err := readManifests(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GroupVersionKind().GroupKind() == (schema.GroupKind{Group: crdResource.Group, Kind: "CustomResourceDefinition"}) {
				crds = append(crds, o)
			}
		}
	}
	if len(crds) == 0 {
		t.Fatalf("kubeenv: no CustomResourceDefinition in %s", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	applied, err := e.apply(ctx, crds)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		t.Fatalf("kubeenv: dynamic client: %v", err)
	}
	for _, crd := range applied {
		if err := waitEstablished(ctx, dyn.Resource(crdResource), crd); err != nil {
			t.Fatal(err)
		}
	}
}

// waitEstablished watches crd, from the version applied, until its
// Established condition is True.
func waitEstablished(ctx context.Context, res dynamic.ResourceInterface, crd *unstructured.Unstructured) error {
	if established(crd) {
		return nil
	}
	w, err := res.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", crd.GetName()).String(),
		ResourceVersion: crd.GetResourceVersion(),
	})
	if err != nil {
		return fmt.Errorf("kubeenv: watch CRD %s: %w", crd.GetName(), err)
	}
	_, err = watchtools.UntilWithoutRetry(ctx, w, func(ev watch.Event) (bool, error) {
		u, ok := ev.Object.(*unstructured.Unstructured)
		return ok && established(u), nil
	})
	if err != nil {
		return fmt.Errorf("kubeenv: CRD %s not established: %w", crd.GetName(), err)
	}
	return nil
}

// established reports whether a CRD's status has Established=True.
func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
