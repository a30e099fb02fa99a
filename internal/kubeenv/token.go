package kubeenv

import (
	"context"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Token returns a token for the service account namespace/name from the
// TokenRequest API, as the kubelet gets a projected one. A nil req asks
// for the apiserver's defaults (its own audience, one hour, not bound to
// a pod); set req.Spec.BoundObjectRef to bind it to a pod.
func (e *Env) Token(t testing.TB, namespace, name string, req *authv1.TokenRequest) string {
	t.Helper()
	if req == nil {
		req = &authv1.TokenRequest{}
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		t.Fatalf("kubeenv: clientset: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubeenv: token for service account %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}
