package k8s_test

import (
	"bufio"
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/svidkit/svidkit/internal/crdgen"
	"github.com/svidkit/svidkit/internal/kubeenv"
)

// registrarExamples holds the registrar's resources in the forms SPIRE's
// documentation shows; each must be accepted.
const registrarExamples = "examples/registrar"

// registrarInvalid holds resources the CRD schemas must refuse; each
// file's first line is "# want: <part of the apiserver's message>".
const registrarInvalid = "deploy/k8s/testdata/registrar-invalid"

// TestRegistrarResourcesRealAPIServer installs deploy/k8s/crds into a real
// kube-apiserver (internal/kubeenv) and checks what the registrar relies
// on there: the examples apply and come back unchanged (no field pruned,
// so the schema declares every field the Go types have), each invalid
// resource is refused by the schema naming the field, and deploy/k8s's
// RBAC lets the server's service account do exactly the registrar's
// watches, status updates and Lease.
func TestRegistrarResourcesRealAPIServer(t *testing.T) {
	root := repoRoot(t)
	env := kubeenv.Start(t)
	env.InstallCRDs(t, filepath.Join(root, filepath.FromSlash(crdgen.Dir)))
	env.Apply(t, filepath.Join(root, "deploy/k8s/namespace.yaml"), filepath.Join(root, "deploy/k8s/server-rbac.yaml"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("examples accepted unchanged", func(t *testing.T) {
		examples := loadManifests(t).under(registrarExamples)
		if len(examples.files) < 5 {
			t.Fatalf("%d files in %s, want the documented forms", len(examples.files), registrarExamples)
		}
		for _, f := range examples.files {
			t.Run(filepath.Base(f), func(t *testing.T) {
				stored, err := env.CreateFile(ctx, filepath.Join(root, filepath.FromSlash(f)))
				if err != nil {
					t.Fatalf("apiserver refused %s: %v", f, err)
				}
				for i, u := range stored {
					// What the apiserver stored decodes strictly into the
					// Go type and equals the file's spec: nothing was
					// pruned or defaulted away.
					data, err := u.MarshalJSON()
					if err != nil {
						t.Fatal(err)
					}
					got, _, err := decodeObject(data)
					if err != nil {
						t.Fatalf("stored %s %s: %v", u.GetKind(), u.GetName(), err)
					}
					want := examplesOf(examples, f)[i].obj
					if !reflect.DeepEqual(specOf(t, got), specOf(t, want)) {
						t.Errorf("%s: stored spec\n%#v\ndiffers from the file's\n%#v", u.GetName(), specOf(t, got), specOf(t, want))
					}
				}
			})
		}
	})

	t.Run("invalid refused by the schema", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(registrarInvalid), "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no test documents in %s: %v", registrarInvalid, err)
		}
		for _, f := range files {
			t.Run(filepath.Base(f), func(t *testing.T) {
				want := wantLine(t, f)
				_, err := env.CreateFile(ctx, f)
				if err == nil {
					t.Fatal("apiserver accepted it")
				}
				if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), want) {
					t.Errorf("apiserver error %v, want Invalid containing %q", err, want)
				}
			})
		}
	})

	t.Run("server service account rbac", func(t *testing.T) {
		admin := kubernetes.NewForConfigOrDie(env.Config)
		const user = "system:serviceaccount:spire:spire-server"
		for _, tc := range []struct {
			group, resource, sub, verb, ns string
			allowed                        bool
		}{
			{"", "pods", "", "list", "", true},
			{"", "pods", "", "watch", "", true},
			{"", "namespaces", "", "watch", "", true},
			{"", "nodes", "", "watch", "", true},
			{"spire.spiffe.io", "clusterspiffeids", "", "watch", "", true},
			{"spire.spiffe.io", "clusterstaticentries", "", "list", "", true},
			{"spire.spiffe.io", "clusterfederatedtrustdomains", "", "watch", "", true},
			{"spire.spiffe.io", "clusterspiffeids", "status", "patch", "", true},
			{"spire.spiffe.io", "clusterstaticentries", "status", "update", "", true},
			{"coordination.k8s.io", "leases", "", "create", "spire", true},
			{"coordination.k8s.io", "leases", "", "update", "spire", true},
			// Never the specs, the pods, or a Lease elsewhere.
			{"spire.spiffe.io", "clusterspiffeids", "", "update", "", false},
			{"spire.spiffe.io", "clusterspiffeids", "", "delete", "", false},
			{"", "pods", "", "delete", "", false},
			{"", "namespaces", "", "update", "", false},
			{"coordination.k8s.io", "leases", "", "update", "kube-system", false},
		} {
			what := tc.verb + " " + tc.resource
			if tc.sub != "" {
				what += "/" + tc.sub
			}
			if tc.ns != "" {
				what += " in " + tc.ns
			}
			t.Run(what, func(t *testing.T) {
				sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
					User:   user,
					Groups: []string{"system:serviceaccounts", "system:serviceaccounts:spire", "system:authenticated"},
					ResourceAttributes: &authzv1.ResourceAttributes{
						Group: tc.group, Resource: tc.resource, Subresource: tc.sub, Verb: tc.verb, Namespace: tc.ns,
					},
				}}, metav1.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if sar.Status.Allowed != tc.allowed {
					t.Errorf("%s may %s: %v, want %v (%s)", user, what, sar.Status.Allowed, tc.allowed, sar.Status.Reason)
				}
			})
		}
	})
}

// examplesOf returns the objects of file f, in document order.
func examplesOf(s *manifestSet, f string) []object {
	var out []object
	for _, o := range s.objects {
		if o.file == f {
			out = append(out, o)
		}
	}
	return out
}

// specOf returns the Spec field of a decoded resource.
func specOf(t *testing.T, obj any) any {
	t.Helper()
	v := reflect.ValueOf(obj).Elem().FieldByName("Spec")
	if !v.IsValid() {
		t.Fatalf("%T has no Spec", obj)
	}
	return v.Interface()
}

// wantLine returns what the "# want: " first line of file f names.
func wantLine(t *testing.T, f string) string {
	t.Helper()
	line, _, _ := bufio.NewReader(bytes.NewReader(readRepoFile(t, "/", f))).ReadLine()
	want, ok := strings.CutPrefix(string(line), "# want: ")
	if !ok || want == "" {
		t.Fatalf("%s: first line %q, want \"# want: <part of the error>\"", f, line)
	}
	return want
}
