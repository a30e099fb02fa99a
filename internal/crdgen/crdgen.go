// Package crdgen generates the CustomResourceDefinitions of deploy/k8s/crds
// from the registrar's Go types (pkg/server/registrar/api) with
// controller-gen, a tool dependency in go.mod, so every clone generates
// with the same version. `go tool task crds` runs it through tools/crds;
// deploy/k8s's TestCRDsAreGenerated runs it into a temporary directory
// and compares, so the committed YAML cannot drift from the types.
package crdgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// Dir is where the CRDs live, relative to the module root.
const Dir = "deploy/k8s/crds"

// typesPattern is the package pattern of the types, relative to the
// module root.
const typesPattern = "./pkg/server/registrar/api/..."

// header opens every generated file.
const header = "# Generated from pkg/server/registrar/api by `go tool task crds` (controller-gen); do not edit.\n"

// Generate writes the CRD YAML of the registrar's types, and a
// kustomization.yaml listing them, into out (created if missing) for the
// module at root, and removes any other *.yaml file there, so that a type
// removed leaves no stale CRD behind. It returns the names of the files
// written, sorted.
func Generate(ctx context.Context, root, out string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "crdgen-")
	if err != nil {
		return nil, fmt.Errorf("crdgen: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "tool", "controller-gen",
		"crd:crdVersions=v1", "paths="+typesPattern, "output:crd:dir="+tmp)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("crdgen: go tool controller-gen: %w\n%s", err, msg)
	}
	generated, err := filepath.Glob(filepath.Join(tmp, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("crdgen: %w", err)
	}
	if len(generated) == 0 {
		return nil, fmt.Errorf("crdgen: controller-gen generated no CRD from %s", typesPattern)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("crdgen: %w", err)
	}
	var names []string
	for _, g := range generated {
		data, err := os.ReadFile(g)
		if err != nil {
			return nil, fmt.Errorf("crdgen: %w", err)
		}
		name := filepath.Base(g)
		if err := os.WriteFile(filepath.Join(out, name), append([]byte(header), data...), 0o644); err != nil {
			return nil, fmt.Errorf("crdgen: write %s: %w", name, err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	if err := os.WriteFile(filepath.Join(out, "kustomization.yaml"), kustomization(names), 0o644); err != nil {
		return nil, fmt.Errorf("crdgen: write kustomization: %w", err)
	}
	names = append(names, "kustomization.yaml")
	slices.Sort(names)
	return names, removeStale(out, names)
}

// removeStale deletes the *.yaml files of dir not in keep.
func removeStale(dir string, keep []string) error {
	present, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return fmt.Errorf("crdgen: %w", err)
	}
	var errs []error
	for _, p := range present {
		name := filepath.Base(p)
		if slices.Contains(keep, name) {
			continue
		}
		if err := os.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("crdgen: remove stale %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// kustomization lists names (the generated CRD files) for kustomize.
func kustomization(names []string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, n := range names {
		b.WriteString("- " + n + "\n")
	}
	return b.Bytes()
}
