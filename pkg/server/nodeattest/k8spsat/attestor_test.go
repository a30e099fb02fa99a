package k8spsat_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/internal/fakekube"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
	"github.com/svidkit/svidkit/pkg/server/nodeattest/k8spsat"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

// cluster is a fake apiserver holding one agent pod on one node.
type cluster struct {
	api  *fakekube.Server
	kube string // kubeconfig path
	pod  *corev1.Pod
	node *corev1.Node
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	api := fakekube.New(t)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", UID: "node-uid-1",
			Labels: map[string]string{"topology.kubernetes.io/zone": "eu-1", "secret": "no"}},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "spire", Name: "spire-agent-x7k2p", UID: "pod-uid-1",
			Labels: map[string]string{"app": "spire-agent", "pod-template-hash": "abc"}},
		Spec:   corev1.PodSpec{NodeName: "node-1", ServiceAccountName: "spire-agent"},
		Status: corev1.PodStatus{HostIP: "10.0.0.11"},
	}
	api.PutNode(node)
	api.PutPod(pod)
	return &cluster{api: api, kube: api.Kubeconfig(t, t.TempDir()), pod: pod, node: node}
}

// config returns an attestor config for cluster "demo" on c.
func (c *cluster) config(mod ...func(*k8spsat.Cluster)) k8spsat.Config {
	cl := k8spsat.Cluster{
		ServiceAccountAllowList: []string{"spire:spire-agent"},
		KubeConfigFile:          c.kube,
		AllowedNodeLabelKeys:    []string{"topology.kubernetes.io/zone"},
		AllowedPodLabelKeys:     []string{"app"},
	}
	for _, m := range mod {
		m(&cl)
	}
	return k8spsat.Config{TrustDomain: td, Clusters: map[string]k8spsat.Cluster{"demo": cl}, Log: slog.New(slog.DiscardHandler)}
}

func payload(t testing.TB, cluster, token string) []byte {
	t.Helper()
	b, err := json.Marshal(k8spsat.AttestationData{Cluster: cluster, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newAttestor(t testing.TB, cfg k8spsat.Config) *k8spsat.Attestor {
	t.Helper()
	a, err := k8spsat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAttestAccepted(t *testing.T) {
	c := newCluster(t)
	c.api.AddToken("good", fakekube.Token{Audiences: []string{"spire-server"}, User: fakekube.BoundUser(c.pod, c.node)})
	a := newAttestor(t, c.config())
	if a.Type() != "k8s_psat" {
		t.Fatalf("Type() = %q", a.Type())
	}

	res, err := a.Attest(context.Background(), payload(t, "demo", "good"))
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	if got, want := res.AgentID.String(), "spiffe://example.org/spire/agent/k8s_psat/demo/node-uid-1"; got != want {
		t.Errorf("agent ID = %q, want %q", got, want)
	}
	if !res.CanReattest {
		t.Error("CanReattest = false, want true")
	}
	if res.JoinToken != "" {
		t.Error("k8s_psat spends no join token")
	}
	want := []string{
		"k8s_psat:agent_node_ip:10.0.0.11",
		"k8s_psat:agent_node_label:topology.kubernetes.io/zone:eu-1",
		"k8s_psat:agent_node_name:node-1",
		"k8s_psat:agent_node_uid:node-uid-1",
		"k8s_psat:agent_ns:spire",
		"k8s_psat:agent_pod_label:app:spire-agent",
		"k8s_psat:agent_pod_name:spire-agent-x7k2p",
		"k8s_psat:agent_pod_uid:pod-uid-1",
		"k8s_psat:agent_sa:spire-agent",
		"k8s_psat:cluster:demo",
	}
	if got := res.Selectors.Strings(); !slices.Equal(got, want) {
		t.Errorf("selectors:\n got %q\nwant %q", got, want)
	}
	reviews := c.api.Reviews()
	if len(reviews) != 1 || reviews[0].Token != "good" || !slices.Equal(reviews[0].Audiences, []string{"spire-server"}) {
		t.Errorf("TokenReview specs = %+v, want one for token \"good\" with audiences [spire-server]", reviews)
	}
}

func TestAttestUnboundNodeToken(t *testing.T) {
	// Before Kubernetes 1.30 tokens carry no node binding; the pod's node
	// is used.
	c := newCluster(t)
	c.api.AddToken("old", fakekube.Token{Audiences: []string{"spire-server"}, User: fakekube.BoundUser(c.pod, nil)})
	res, err := newAttestor(t, c.config()).Attest(context.Background(), payload(t, "demo", "old"))
	if err != nil {
		t.Fatal(err)
	}
	if res.AgentID.Path() != "/spire/agent/k8s_psat/demo/node-uid-1" {
		t.Fatalf("agent ID = %q", res.AgentID)
	}
}

func TestAttestCustomAudience(t *testing.T) {
	c := newCluster(t)
	c.api.AddToken("tok", fakekube.Token{Audiences: []string{"svidkit"}, User: fakekube.BoundUser(c.pod, c.node)})
	cfg := c.config(func(cl *k8spsat.Cluster) { cl.Audience = []string{"other", "svidkit"} })
	if _, err := newAttestor(t, cfg).Attest(context.Background(), payload(t, "demo", "tok")); err != nil {
		t.Fatal(err)
	}
	if got := c.api.Reviews()[0].Audiences; !slices.Equal(got, []string{"other", "svidkit"}) {
		t.Fatalf("spec.audiences = %q", got)
	}
}

func TestAttestRefused(t *testing.T) {
	c := newCluster(t)
	user := fakekube.BoundUser(c.pod, c.node)
	aud := []string{"spire-server"}
	c.api.AddToken("wrong-aud", fakekube.Token{Audiences: []string{"vault"}, User: user})
	c.api.AddToken("lenient", fakekube.Token{Audiences: []string{"vault"}, User: user, IgnoreAudiences: true})

	otherSA := c.pod.DeepCopy()
	otherSA.Spec.ServiceAccountName = "default"
	c.api.AddToken("other-sa", fakekube.Token{Audiences: aud, User: fakekube.BoundUser(otherSA, c.node)})

	oldPod := c.pod.DeepCopy()
	oldPod.UID = "pod-uid-0" // the token outlived its pod, now recreated
	c.api.AddToken("old-pod", fakekube.Token{Audiences: aud, User: fakekube.BoundUser(oldPod, c.node)})

	// A token minted on node-2 replayed by an agent claiming the pod on node-1.
	node2 := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-2", UID: "node-uid-2"}}
	c.api.PutNode(node2)
	c.api.AddToken("replay-node-name", fakekube.Token{Audiences: aud, User: fakekube.BoundUser(c.pod, node2)})
	sameName := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", UID: "node-uid-old"}}
	c.api.AddToken("replay-node-uid", fakekube.Token{Audiences: aud, User: fakekube.BoundUser(c.pod, sameName)})

	gone := c.pod.DeepCopy()
	gone.Name, gone.UID = "spire-agent-gone", "pod-uid-gone"
	c.api.AddToken("missing-pod", fakekube.Token{Audiences: aud, User: fakekube.BoundUser(gone, c.node)})

	pending := c.pod.DeepCopy()
	pending.Name, pending.UID, pending.Spec.NodeName = "spire-agent-pending", "pod-uid-p", ""
	c.api.PutPod(pending)
	c.api.AddToken("unscheduled", fakekube.Token{Audiences: aud, User: fakekube.BoundUser(pending, nil)})

	orphan := c.pod.DeepCopy()
	orphan.Name, orphan.UID, orphan.Spec.NodeName = "spire-agent-orphan", "pod-uid-o", "node-gone"
	c.api.PutPod(orphan)
	c.api.AddToken("missing-node", fakekube.Token{Audiences: aud, User: fakekube.BoundUser(orphan, nil)})

	legacy := user
	legacy.Extra = nil // a legacy (secret-based) service account token
	c.api.AddToken("legacy", fakekube.Token{Audiences: aud, User: legacy})
	c.api.AddToken("not-sa", fakekube.Token{Audiences: aud, User: authUser("alice")})

	a := newAttestor(t, c.config())
	tests := []struct {
		name    string
		payload []byte
		kind    nodeattest.Kind
		msg     string
	}{
		{name: "wrong audience", payload: payload(t, "demo", "wrong-aud"), kind: nodeattest.KindDenied, msg: `token audiences ["vault"] is invalid for the target audiences ["spire-server"]`},
		{name: "audience not reported", payload: payload(t, "demo", "lenient"), kind: nodeattest.KindDenied, msg: `token audiences ["vault"] do not include any of the configured audiences ["spire-server"]`},
		{name: "service account not allowed", payload: payload(t, "demo", "other-sa"), kind: nodeattest.KindDenied, msg: `service account "spire:default" is not in service_account_allow_list`},
		{name: "unknown cluster", payload: payload(t, "prod", "good"), kind: nodeattest.KindInvalid, msg: `cluster "prod" is not configured on this server (configured: demo)`},
		{name: "unauthenticated token", payload: payload(t, "demo", "forged"), kind: nodeattest.KindDenied, msg: "token not authenticated by the TokenReview API"},
		{name: "pod UID mismatch", payload: payload(t, "demo", "old-pod"), kind: nodeattest.KindDenied, msg: "the token was issued for pod UID pod-uid-0"},
		{name: "replay on other node (node name)", payload: payload(t, "demo", "replay-node-name"), kind: nodeattest.KindDenied, msg: `token is bound to node "node-2" but pod spire/spire-agent-x7k2p runs on node "node-1"`},
		{name: "replay on other node (node UID)", payload: payload(t, "demo", "replay-node-uid"), kind: nodeattest.KindDenied, msg: `token is bound to node UID node-uid-old but node "node-1" has UID node-uid-1`},
		{name: "missing pod", payload: payload(t, "demo", "missing-pod"), kind: nodeattest.KindDenied, msg: "pod spire/spire-agent-gone of the token does not exist"},
		{name: "unscheduled pod", payload: payload(t, "demo", "unscheduled"), kind: nodeattest.KindDenied, msg: "is not scheduled to a node"},
		{name: "missing node", payload: payload(t, "demo", "missing-node"), kind: nodeattest.KindDenied, msg: "node node-gone of the token does not exist"},
		{name: "token not bound to a pod", payload: payload(t, "demo", "legacy"), kind: nodeattest.KindDenied, msg: "authentication.kubernetes.io/pod-name: the token is not bound to a pod"},
		{name: "not a service account", payload: payload(t, "demo", "not-sa"), kind: nodeattest.KindDenied, msg: `token user "alice" is not a service account`},
		{name: "malformed payload", payload: []byte("token-without-json"), kind: nodeattest.KindInvalid, msg: "payload is not the JSON"},
		{name: "missing cluster", payload: payload(t, "", "good"), kind: nodeattest.KindInvalid, msg: "missing cluster"},
		{name: "missing token", payload: payload(t, "demo", ""), kind: nodeattest.KindInvalid, msg: "missing token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := a.Attest(context.Background(), tt.payload)
			if err == nil {
				t.Fatalf("Attest accepted %s as %q", tt.payload, res.AgentID)
			}
			if got := nodeattest.KindOf(err); got != tt.kind {
				t.Errorf("kind = %v, want %v (%v)", got, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func authUser(name string) authv1.UserInfo {
	return authv1.UserInfo{Username: name, Groups: []string{"system:authenticated"}}
}

func TestAttestAPIServerDown(t *testing.T) {
	c := newCluster(t)
	c.api.AddToken("good", fakekube.Token{Audiences: []string{"spire-server"}, User: fakekube.BoundUser(c.pod, c.node)})
	a := newAttestor(t, c.config())
	c.api.SetFailing(true)
	_, err := a.Attest(context.Background(), payload(t, "demo", "good"))
	if err == nil {
		t.Fatal("Attest succeeded against a failing apiserver")
	}
	// The server's problem, not the agent's: no refusal kind.
	if k := nodeattest.KindOf(err); k != 0 {
		t.Fatalf("kind = %v, want none for an apiserver failure (%v)", k, err)
	}
	if !strings.Contains(err.Error(), "create TokenReview") {
		t.Fatalf("error %q does not say what failed", err)
	}
	c.api.SetFailing(false)
	if _, err := a.Attest(context.Background(), payload(t, "demo", "good")); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestNewConfigErrors(t *testing.T) {
	c := newCluster(t)
	tests := []struct {
		name string
		cfg  k8spsat.Config
		msg  string
	}{
		{name: "no clusters", cfg: k8spsat.Config{TrustDomain: td}, msg: "at least one cluster is required"},
		{name: "no trust domain", cfg: k8spsat.Config{Clusters: c.config().Clusters}, msg: "trust domain is required"},
		{name: "empty allow list", cfg: c.config(func(cl *k8spsat.Cluster) { cl.ServiceAccountAllowList = nil }),
			msg: `cluster "demo": service_account_allow_list must name at least one service account`},
		{name: "bad allow list entry", cfg: c.config(func(cl *k8spsat.Cluster) { cl.ServiceAccountAllowList = []string{"spire-agent"} }),
			msg: `service_account_allow_list entry "spire-agent": want "namespace:name"`},
		{name: "bad cluster name", cfg: k8spsat.Config{TrustDomain: td, Clusters: map[string]k8spsat.Cluster{"a/b": c.config().Clusters["demo"]}},
			msg: `cluster "a/b": name cannot be used in an agent ID path`},
		{name: "missing kubeconfig", cfg: c.config(func(cl *k8spsat.Cluster) { cl.KubeConfigFile = "/nonexistent/kubeconfig" }),
			msg: `cluster "demo": kubeclient: kubeconfig "/nonexistent/kubeconfig"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k8spsat.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.msg)
			}
		})
	}
}

func TestAgentID(t *testing.T) {
	id, err := k8spsat.AgentID(td, "demo", "0b9b5c49-3c3a-4d0b-9d43-1b2e6f0e8a11")
	if err != nil {
		t.Fatal(err)
	}
	if want := "spiffe://example.org/spire/agent/k8s_psat/demo/0b9b5c49-3c3a-4d0b-9d43-1b2e6f0e8a11"; id.String() != want {
		t.Fatalf("AgentID = %q, want %q", id, want)
	}
}

func TestAttestAPIServerAudience(t *testing.T) {
	// audience = [] asks the apiserver to check its own audience, as SPIRE
	// does; the review's audiences are then not compared.
	c := newCluster(t)
	c.api.AddToken("default-aud", fakekube.Token{Audiences: []string{"https://kubernetes.default.svc.cluster.local"}, User: fakekube.BoundUser(c.pod, c.node)})
	c.api.AddToken("spire-aud", fakekube.Token{Audiences: []string{"spire-server"}, User: fakekube.BoundUser(c.pod, c.node)})
	a := newAttestor(t, c.config(func(cl *k8spsat.Cluster) { cl.Audience = []string{} }))
	if _, err := a.Attest(context.Background(), payload(t, "demo", "default-aud")); err != nil {
		t.Fatalf("token for the apiserver's audience: %v", err)
	}
	if got := c.api.Reviews()[0].Audiences; len(got) != 0 {
		t.Fatalf("spec.audiences = %q, want none", got)
	}
	if _, err := a.Attest(context.Background(), payload(t, "demo", "spire-aud")); nodeattest.KindOf(err) != nodeattest.KindDenied {
		t.Fatalf("token for another audience: %v, want denied", err)
	}
}
