package e2e_test

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/internal/fakekube"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// psatCluster is the cluster name the server and the agent agree on.
const psatCluster = "demo-cluster"

// psatWorld is a fake cluster: one node running the agent's pod, and the
// apiserver that reviews the pod's projected tokens.
type psatWorld struct {
	kube       *fakekube.Server
	kubeconfig string
	pod        *corev1.Pod
	node       *corev1.Node
}

func newPSATWorld(t *testing.T, dir string) *psatWorld {
	t.Helper()
	w := &psatWorld{kube: fakekube.New(t)}
	w.kubeconfig = w.kube.Kubeconfig(t, dir)
	w.node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "node-1", UID: "5b2c6f0e-1111-4c4c-9d9d-0123456789ab",
		Labels: map[string]string{"topology.kubernetes.io/zone": "zone-a"},
	}}
	w.pod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "spire", Name: "spire-agent-x7k2p", UID: "0d7b1c3a-2222-4f4f-8e8e-abcdef012345"},
		Spec:       corev1.PodSpec{ServiceAccountName: "spire-agent", NodeName: "node-1"},
		Status:     corev1.PodStatus{HostIP: "192.0.2.10"},
	}
	w.kube.PutNode(w.node)
	w.kube.PutPod(w.pod)
	w.kube.PutConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "spire", Name: "spire-bundle"}})
	return w
}

// issueToken makes token a valid projected token of the agent's pod for
// the audience "spire-server", as the kubelet would mint it.
func (w *psatWorld) issueToken(token string) {
	w.kube.AddToken(token, fakekube.Token{Audiences: []string{"spire-server"}, User: fakekube.BoundUser(w.pod, w.node)})
}

// serverConfig enables k8s_psat and the k8sbundle notifier against the
// fake apiserver.
func (w *psatWorld) serverConfig(cfg *config.Server) {
	cfg.NodeAttestors = append(cfg.NodeAttestors, config.NodeAttestorK8sPSAT)
	cfg.K8sPSAT = &config.K8sPSATNodeAttestor{Clusters: map[string]config.K8sPSATCluster{
		psatCluster: {
			ServiceAccountAllowList: []string{"spire:spire-agent"},
			Audience:                []string{"spire-server"},
			KubeConfigFile:          w.kubeconfig,
			AllowedNodeLabelKeys:    []string{"topology.kubernetes.io/zone"},
		},
	}}
	cfg.K8sBundle = &config.K8sBundle{Namespace: "spire", ConfigMap: "spire-bundle", ConfigMapKey: "bundle.crt", KubeConfigFile: w.kubeconfig}
}

// TestK8sPSATEndToEnd runs the Kubernetes flow with the real server and
// agent: the server publishes its bundle to the ConfigMap agents bootstrap
// from, an agent attests with its pod's projected token and gets the
// node-UID agent ID and k8s_psat selectors, a workload entry parented to a
// node entry (cluster selector) reaches the workload, and the agent
// re-attests with the kubelet's rotated token instead of renewing.
func TestK8sPSATEndToEnd(t *testing.T) {
	dir := t.TempDir()
	w := newPSATWorld(t, dir)
	e := startServer(t, testenv.Options{ServerConfig: func(cfg *config.Server) {
		w.serverConfig(cfg)
		// A short agent SVID life so that re-attestation at half life
		// happens within the test.
		cfg.AgentTTL = 8 * time.Second
	}})

	// The notifier keeps the ConfigMap's bundle.crt equal to the bundle.
	want := string(e.BundlePEM(t))
	pollUntil(t, 15*time.Second, 20*time.Millisecond, "the k8sbundle notifier to publish the bundle", func() bool {
		cm := w.kube.ConfigMap("spire", "spire-bundle")
		return cm != nil && cm.Data["bundle.crt"] == want
	})
	bundleFromConfigMap := []byte(w.kube.ConfigMap("spire", "spire-bundle").Data["bundle.crt"])
	if b, _ := pem.Decode(bundleFromConfigMap); b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("ConfigMap bundle.crt is not PEM certificates: %q", bundleFromConfigMap)
	}

	// Node entry: every agent of the cluster is spiffe://…/k8s-cluster/demo.
	e.CreateEntries(t, []*types.Entry{{
		SpiffeId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: "/k8s-cluster/" + psatCluster},
		ParentId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: "/spire/server"},
		Selectors: []*types.Selector{{Type: "k8s_psat", Value: "cluster:" + psatCluster}},
	}})
	e.CreateEntry(t, workloadEntry("/k8s-cluster/"+psatCluster, "/db", 0))

	tokenPath := filepath.Join(dir, "tokens", "spire-agent")
	if err := os.MkdirAll(filepath.Dir(tokenPath), 0o755); err != nil {
		t.Fatal(err)
	}
	writeToken := func(tok string) {
		t.Helper()
		w.issueToken(tok)
		// The kubelet swaps projected tokens atomically.
		tmp := tokenPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tokenPath); err != nil {
			t.Fatal(err)
		}
	}
	writeToken("psat-token-1")

	// The agent bootstraps from the ConfigMap's bundle, as a DaemonSet pod
	// mounting it would.
	cfg := e.AgentConfig(t, "psat", "")
	if err := os.WriteFile(cfg.TrustBundlePath, bundleFromConfigMap, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.NodeAttestor = config.NodeAttestorK8sPSAT
	cfg.K8sPSAT = &config.K8sPSATAttestor{Cluster: psatCluster, TokenPath: tokenPath}
	ag := e.StartAgentWith(t, "psat", cfg)

	wantID := "spiffe://" + trustDomain + "/spire/agent/k8s_psat/" + psatCluster + "/" + string(w.node.UID)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	agents := agentv1.NewAgentClient(e.Conn())
	list, err := agents.ListAgents(ctx, &agentv1.ListAgentsRequest{})
	if err != nil || len(list.Agents) != 1 {
		t.Fatalf("ListAgents = %v, %v", list, err)
	}
	got := list.Agents[0]
	if id := "spiffe://" + got.Id.TrustDomain + got.Id.Path; id != wantID {
		t.Fatalf("agent ID = %s, want %s", id, wantID)
	}
	if got.AttestationType != "k8s_psat" {
		t.Errorf("attestation type = %q, want k8s_psat", got.AttestationType)
	}
	var sels []string
	for _, s := range got.Selectors {
		sels = append(sels, s.Type+":"+s.Value)
	}
	for _, s := range []string{
		"k8s_psat:cluster:" + psatCluster,
		"k8s_psat:agent_ns:spire",
		"k8s_psat:agent_sa:spire-agent",
		"k8s_psat:agent_pod_name:spire-agent-x7k2p",
		"k8s_psat:agent_pod_uid:" + string(w.pod.UID),
		"k8s_psat:agent_node_ip:192.0.2.10",
		"k8s_psat:agent_node_name:node-1",
		"k8s_psat:agent_node_uid:" + string(w.node.UID),
		"k8s_psat:agent_node_label:topology.kubernetes.io/zone:zone-a",
	} {
		if !slices.Contains(sels, s) {
			t.Errorf("agent selectors %v lack %s", sels, s)
		}
	}

	// The workload entry under the node entry reaches the workload.
	wt := watch(t, ag.Client(t))
	wt.waitFor(t, 15*time.Second, "the workload SVID via the node entry", func(x *workloadapi.X509Context) bool {
		return len(x.SVIDs) == 1 && x.SVIDs[0].ID.Path() == "/db"
	})

	// The kubelet rotates the projected token; at half life the agent
	// attests again with the new token (PSAT agents re-attest, they do not
	// renew), keeps its agent ID and keeps serving.
	writeToken("psat-token-2")
	pollUntil(t, 20*time.Second, 50*time.Millisecond, "a re-attestation with the rotated token", func() bool {
		return slices.ContainsFunc(w.kube.Reviews(), func(r authv1.TokenReviewSpec) bool { return r.Token == "psat-token-2" })
	})
	pollUntil(t, 20*time.Second, 50*time.Millisecond, "the agent to switch to its re-attested SVID", func() bool {
		l, err := agents.ListAgents(ctx, &agentv1.ListAgentsRequest{})
		return err == nil && len(l.Agents) == 1 && l.Agents[0].X509SvidSerialNumber != got.X509SvidSerialNumber
	})
	l, err := agents.ListAgents(ctx, &agentv1.ListAgentsRequest{})
	if err != nil || len(l.Agents) != 1 {
		t.Fatalf("ListAgents after re-attestation = %v, %v", l, err)
	}
	if id := "spiffe://" + l.Agents[0].Id.TrustDomain + l.Agents[0].Id.Path; id != wantID {
		t.Fatalf("agent ID after re-attestation = %s, want %s", id, wantID)
	}
	// A new entry still arrives: the re-attested agent is authorized.
	e.CreateEntry(t, workloadEntry("/k8s-cluster/"+psatCluster, "/db-2", 0))
	wt.waitFor(t, 15*time.Second, "a new entry after re-attestation", func(x *workloadapi.X509Context) bool { return len(x.SVIDs) == 2 })
}

// TestK8sPSATRefusedAgentDoesNotStart: an agent whose token the server
// refuses (here: a token minted for another audience) fails with the
// server's reason and never serves workloads.
func TestK8sPSATRefusedAgentDoesNotStart(t *testing.T) {
	dir := t.TempDir()
	w := newPSATWorld(t, dir)
	e := startServer(t, testenv.Options{ServerConfig: w.serverConfig})

	tokenPath := filepath.Join(dir, "token")
	w.kube.AddToken("vault-token", fakekube.Token{Audiences: []string{"vault"}, User: fakekube.BoundUser(w.pod, w.node)})
	if err := os.WriteFile(tokenPath, []byte("vault-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.AgentConfig(t, "refused", "")
	cfg.NodeAttestor = config.NodeAttestorK8sPSAT
	cfg.K8sPSAT = &config.K8sPSATAttestor{Cluster: psatCluster, TokenPath: tokenPath}
	err := e.RunAgentExpectingFailure(t, "refused", cfg)
	if err == nil || !strings.Contains(err.Error(), "audience") && !strings.Contains(err.Error(), "authenticated") {
		t.Fatalf("agent error = %v, want the token refusal", err)
	}
}
