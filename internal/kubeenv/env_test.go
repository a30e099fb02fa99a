package kubeenv_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svidkit/svidkit/internal/kubeenv"
)

// TestEnv starts one control plane and checks, in order, what tests rely
// on: the admin config and a kubeconfig file work, RBAC governs other
// identities, CRDs install with their schema enforced, and Stop leaves no
// process behind.
func TestEnv(t *testing.T) {
	env := kubeenv.Start(t)
	t.Logf("kube-apiserver ready after %s", env.StartupTime)
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(env.Config)

	t.Run("kubeconfig", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeenv.Kubeconfig(t, t.TempDir(), env.Config))
		if err != nil {
			t.Fatal(err)
		}
		v, err := kubernetes.NewForConfigOrDie(cfg).Discovery().ServerVersion()
		if err != nil {
			t.Fatalf("GET /version through the kubeconfig: %v", err)
		}
		if !strings.HasPrefix(v.GitVersion, "v1.") {
			t.Errorf("server version %q, want the k8s.io/kubernetes version of tools/kubebin (v1.x)", v.GitVersion)
		}
	})

	t.Run("rbac for a service account", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rbac-test"}}
		if _, err := admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}
		if _, err := admin.CoreV1().ServiceAccounts(ns.Name).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		reader := kubernetes.NewForConfigOrDie(env.TokenConfig(env.Token(t, ns.Name, sa.Name, nil)))
		if _, err := reader.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("list pods without a role binding: err = %v, want Forbidden", err)
		}
		role := &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}},
		}
		if _, err := admin.RbacV1().Roles(ns.Name).Create(ctx, role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: ns.Name}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		}
		if _, err := admin.RbacV1().RoleBindings(ns.Name).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := reader.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatalf("list pods with a role binding: %v", err)
		}
	})

	t.Run("crds", func(t *testing.T) {
		env.InstallCRDs(t, "testdata/crds")
		if _, err := admin.CoreV1().ConfigMaps("default").Get(ctx, "not-installed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap beside the CRD: err = %v, want NotFound (InstallCRDs applies only CRDs)", err)
		}
		widgets := dynamic.NewForConfigOrDie(env.Config).
			Resource(schema.GroupVersionResource{Group: "test.svidkit.io", Version: "v1", Resource: "widgets"}).
			Namespace("default")
		widget := func(name string, size any) *unstructured.Unstructured {
			return &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "test.svidkit.io/v1", "kind": "Widget",
				"metadata": map[string]any{"name": name},
				"spec":     map[string]any{"size": size},
			}}
		}
		if _, err := widgets.Create(ctx, widget("ok", int64(3)), metav1.CreateOptions{}); err != nil {
			t.Fatalf("create a valid Widget: %v", err)
		}
		_, err := widgets.Create(ctx, widget("too-big", int64(11)), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.size") {
			t.Fatalf("create a Widget with spec.size 11: err = %v, want Invalid naming spec.size", err)
		}
		// Installing again (already established) returns at once.
		env.InstallCRDs(t, "testdata/crds")
	})

	t.Run("stop leaves no process", func(t *testing.T) {
		pids := env.PIDs()
		if len(pids) != 2 {
			t.Fatalf("PIDs() = %v, want etcd and kube-apiserver", pids)
		}
		if err := env.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		for _, pid := range pids {
			// Each process led its own group: signal 0 to the group
			// finds no member once everything in it is gone.
			if err := unix.Kill(-pid, 0); !errors.Is(err, unix.ESRCH) {
				t.Errorf("process group %d after Stop: kill(-pgid, 0) = %v, want ESRCH", pid, err)
			}
		}
		if err := env.Stop(); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}
