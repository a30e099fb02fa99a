package k8spsat_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/svidkit/svidkit/internal/kubeenv"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
	"github.com/svidkit/svidkit/pkg/server/nodeattest/k8spsat"
)

// TestAttestRealAPIServer attests an agent against a real kube-apiserver
// (internal/kubeenv): the agent's token is a pod-bound token from the
// TokenRequest API, as the kubelet projects it, and the attestor reviews
// it by TokenReview with the permissions deploy/k8s's RBAC gives the
// server's service account, nothing more.
func TestAttestRealAPIServer(t *testing.T) {
	env := kubeenv.Start(t)
	env.Apply(t, "../../../../deploy/k8s/namespace.yaml", "../../../../deploy/k8s/server-rbac.yaml",
		"../../../../deploy/k8s/agent-rbac.yaml")
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(env.Config)

	node, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "node-1", Labels: map[string]string{"topology.kubernetes.io/zone": "eu-1", "secret": "no"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newPod := func(t *testing.T) *corev1.Pod {
		t.Helper()
		pod, err := admin.CoreV1().Pods("spire").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "spire-agent-x7k2p", Labels: map[string]string{"app": "spire-agent", "pod-template-hash": "abc"}},
			Spec: corev1.PodSpec{
				NodeName: node.Name, ServiceAccountName: "spire-agent",
				Containers: []corev1.Container{{Name: "agent", Image: "example.invalid/spire-agent"}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Status.HostIP = "10.0.0.11"
		if pod, err = admin.CoreV1().Pods("spire").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return pod
	}
	agentToken := func(t *testing.T, pod *corev1.Pod, audience string) string {
		return env.Token(t, "spire", "spire-agent", &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
			Audiences:      []string{audience},
			BoundObjectRef: &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		}})
	}
	deletePod := func(t *testing.T, pod *corev1.Pod) {
		t.Helper()
		// Grace period 0: no kubelet will confirm the pod's termination.
		if err := admin.CoreV1().Pods("spire").Delete(ctx, pod.Name, *metav1.NewDeleteOptions(0)); err != nil {
			t.Fatal(err)
		}
	}

	// The server authenticates as its own service account (deploy/k8s).
	serverKube := kubeenv.Kubeconfig(t, t.TempDir(), env.TokenConfig(env.Token(t, "spire", "spire-server", nil)))
	a, err := k8spsat.New(k8spsat.Config{TrustDomain: td, Log: slog.New(slog.DiscardHandler),
		Clusters: map[string]k8spsat.Cluster{"demo": {
			ServiceAccountAllowList: []string{"spire:spire-agent"},
			KubeConfigFile:          serverKube,
			AllowedNodeLabelKeys:    []string{"topology.kubernetes.io/zone"},
			AllowedPodLabelKeys:     []string{"app"},
		}}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("pod-bound token accepted", func(t *testing.T) {
		pod := newPod(t)
		defer deletePod(t, pod)
		res, err := a.Attest(ctx, payload(t, "demo", agentToken(t, pod, "spire-server")))
		if err != nil {
			t.Fatalf("Attest: %v", err)
		}
		if got, want := res.AgentID.String(), "spiffe://example.org/spire/agent/k8s_psat/demo/"+string(node.UID); got != want {
			t.Errorf("agent ID = %q, want %q", got, want)
		}
		want := []string{
			"k8s_psat:agent_node_ip:10.0.0.11",
			"k8s_psat:agent_node_label:topology.kubernetes.io/zone:eu-1",
			"k8s_psat:agent_node_name:node-1",
			"k8s_psat:agent_node_uid:" + string(node.UID),
			"k8s_psat:agent_ns:spire",
			"k8s_psat:agent_pod_label:app:spire-agent",
			"k8s_psat:agent_pod_name:spire-agent-x7k2p",
			"k8s_psat:agent_pod_uid:" + string(pod.UID),
			"k8s_psat:agent_sa:spire-agent",
			"k8s_psat:cluster:demo",
		}
		if got := res.Selectors.Strings(); !slices.Equal(got, want) {
			t.Errorf("selectors:\n got %q\nwant %q", got, want)
		}
	})

	t.Run("token for another audience denied", func(t *testing.T) {
		pod := newPod(t)
		defer deletePod(t, pod)
		_, err := a.Attest(ctx, payload(t, "demo", agentToken(t, pod, "vault")))
		if nodeattest.KindOf(err) != nodeattest.KindDenied || !strings.Contains(err.Error(), "not authenticated by the TokenReview API") {
			t.Fatalf("Attest with an aud=vault token: err = %v, want denied by TokenReview", err)
		}
	})

	t.Run("token of a deleted pod denied", func(t *testing.T) {
		pod := newPod(t)
		token := agentToken(t, pod, "spire-server")
		deletePod(t, pod)
		// A new pod takes the name: the token is bound to the old UID.
		defer deletePod(t, newPod(t))
		_, err := a.Attest(ctx, payload(t, "demo", token))
		if nodeattest.KindOf(err) != nodeattest.KindDenied {
			t.Fatalf("Attest with the deleted pod's token: err = %v, want denied", err)
		}
		t.Logf("refused: %v", err)
	})
}
