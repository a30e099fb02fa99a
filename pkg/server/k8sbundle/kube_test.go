package k8sbundle_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/svidkit/svidkit/internal/kubeenv"
	"github.com/svidkit/svidkit/pkg/server/k8sbundle"
)

// TestPublishRealAPIServer runs the notifier against a real kube-apiserver
// (internal/kubeenv) with deploy/k8s's namespace, bundle ConfigMap and
// RBAC, authenticated as the server's service account (which may only get
// and patch that ConfigMap), and sees each bundle arrive through a watch:
// at start, then after a CA rotation.
func TestPublishRealAPIServer(t *testing.T) {
	env := kubeenv.Start(t)
	env.Apply(t, "../../../deploy/k8s/namespace.yaml", "../../../deploy/k8s/server-rbac.yaml",
		"../../../deploy/k8s/bundle-configmap.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cms := kubernetes.NewForConfigOrDie(env.Config).CoreV1().ConfigMaps("spire")
	initial, err := cms.Get(ctx, "spire-bundle", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// until watches the ConfigMap from resourceVersion rv until it holds
	// want, and returns the resourceVersion of that state.
	until := func(what, rv string, want []*x509.Certificate) string {
		t.Helper()
		w, err := cms.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", "spire-bundle").String(),
			ResourceVersion: rv,
		})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := watchtools.UntilWithoutRetry(ctx, w, func(ev watch.Event) (bool, error) {
			cm, ok := ev.Object.(*corev1.ConfigMap)
			return ok && ev.Type == watch.Modified && holds(cm, "bundle.crt", want), nil
		})
		if err != nil {
			t.Fatalf("waiting for %s through a watch: %v", what, err)
		}
		return ev.Object.(*corev1.ConfigMap).ResourceVersion
	}

	m, clock := newCA(t)
	serverKube := kubeenv.Kubeconfig(t, t.TempDir(), env.TokenConfig(env.Token(t, "spire", "spire-server", nil)))
	start(t, k8sbundle.Config{Source: m, KubeConfigFile: serverKube})
	first := m.Bundle().X509Authorities()
	rv := until("the initial bundle", initial.ResourceVersion, first)

	// At half the CA's life the next CA is prepared and joins the bundle.
	clock.Set(first[0].NotBefore.Add(first[0].NotAfter.Sub(first[0].NotBefore) / 2))
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	rotated := m.Bundle().X509Authorities()
	if len(rotated) != 2 {
		t.Fatalf("rotated bundle has %d authorities, want 2", len(rotated))
	}
	until("the rotated bundle", rv, rotated)
}
