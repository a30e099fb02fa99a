package kubeclient_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/internal/fakekube"
	"github.com/svidkit/svidkit/pkg/server/kubeclient"
)

func TestNewFromKubeconfig(t *testing.T) {
	api := fakekube.New(t)
	api.PutNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "u1"}})
	cs, err := kubeclient.New(api.Kubeconfig(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	n, err := cs.GetNode(context.Background(), "n1")
	if err != nil {
		t.Fatalf("get node through the kubeconfig's server and credentials: %v", err)
	}
	if n.UID != "u1" {
		t.Fatalf("node UID = %q", n.UID)
	}
}

func TestNewErrors(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	tests := []struct{ name, path, msg string }{
		{name: "not in a cluster", path: "", msg: "in-cluster config"},
		{name: "missing kubeconfig", path: "/nonexistent/kubeconfig", msg: `kubeconfig "/nonexistent/kubeconfig"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kubeclient.New(tt.path); err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("New(%q) error = %v, want %q", tt.path, err, tt.msg)
			}
		})
	}
}
