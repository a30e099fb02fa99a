package e2e_test

import (
	"context"
	"crypto/x509"
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
	"k8s.io/apimachinery/pkg/fields"
	k8swatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/svidkit/svidkit/internal/kubeenv"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// kubeCluster is a real kube-apiserver (internal/kubeenv) holding
// deploy/k8s's namespace, RBAC and bundle ConfigMap, one node, and the
// objects a test adds. No kubelet runs: pods are API objects with a node
// name, and their projected tokens come from the TokenRequest API.
type kubeCluster struct {
	env   *kubeenv.Env
	admin kubernetes.Interface
	node  *corev1.Node
	// serverKubeconfig authenticates as deploy/k8s's spire:spire-server
	// service account, with exactly the permissions its RBAC grants.
	serverKubeconfig string
}

func newKubeCluster(t *testing.T) *kubeCluster {
	t.Helper()
	env := kubeenv.Start(t)
	deploy := filepath.Join("..", "..", "deploy", "k8s")
	env.Apply(t, filepath.Join(deploy, "namespace.yaml"), filepath.Join(deploy, "server-rbac.yaml"),
		filepath.Join(deploy, "agent-rbac.yaml"), filepath.Join(deploy, "bundle-configmap.yaml"))
	c := &kubeCluster{env: env, admin: kubernetes.NewForConfigOrDie(env.Config)}
	node, err := c.admin.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "node-1", Labels: map[string]string{"topology.kubernetes.io/zone": "zone-a"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.node = node
	c.serverKubeconfig = kubeenv.Kubeconfig(t, t.TempDir(), env.TokenConfig(env.Token(t, "spire", "spire-server", nil)))
	return c
}

// serverConfig enables k8s_psat (cluster psatCluster, spire:spire-agent
// only) and the k8sbundle notifier, both as the server's service account.
func (c *kubeCluster) serverConfig(cfg *config.Server) {
	cfg.NodeAttestors = append(cfg.NodeAttestors, config.NodeAttestorK8sPSAT)
	cfg.K8sPSAT = &config.K8sPSATNodeAttestor{Clusters: map[string]config.K8sPSATCluster{
		psatCluster: {
			ServiceAccountAllowList: []string{"spire:spire-agent"},
			Audience:                config.DefaultPSATAudience,
			KubeConfigFile:          c.serverKubeconfig,
			AllowedNodeLabelKeys:    []string{"topology.kubernetes.io/zone"},
		},
	}}
	cfg.K8sBundle = &config.K8sBundle{Namespace: config.DefaultBundleNamespace, ConfigMap: config.DefaultBundleConfigMap,
		ConfigMapKey: config.DefaultBundleConfigMapKey, KubeConfigFile: c.serverKubeconfig}
}

// pod creates a running pod of service account sa in namespace spire on
// the cluster's node (the status a kubelet would report included).
func (c *kubeCluster) pod(t *testing.T, name, sa string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pods := c.admin.CoreV1().Pods("spire")
	pod, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName: c.node.Name, ServiceAccountName: sa,
			Containers: []corev1.Container{{Name: "agent", Image: "example.invalid/agent"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase, pod.Status.HostIP = corev1.PodRunning, "192.0.2.10"
	if pod, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return pod
}

// deletePod deletes pod at once (no kubelet would confirm a graceful
// termination).
func (c *kubeCluster) deletePod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if err := c.admin.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name, *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
}

// writeToken writes a token the TokenRequest API issues for pod's
// service account, bound to pod, audience spire-server — what the kubelet
// projects into the agent's pod — to a new file and returns its path.
func (c *kubeCluster) writeToken(t *testing.T, pod *corev1.Pod) string {
	t.Helper()
	tok := c.env.Token(t, pod.Namespace, pod.Spec.ServiceAccountName, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		Audiences:      config.DefaultPSATAudience,
		BoundObjectRef: &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}})
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitBundle watches the spire-bundle ConfigMap, from resourceVersion rv
// ("" for its current state), until the certificates of its bundle.crt
// satisfy cond, and returns that ConfigMap.
func (c *kubeCluster) waitBundle(t *testing.T, what, rv string, cond func([]*x509.Certificate) bool) *corev1.ConfigMap {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cms := c.admin.CoreV1().ConfigMaps("spire")
	if rv == "" {
		cm, err := cms.Get(ctx, config.DefaultBundleConfigMap, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cond(configMapBundle(t, cm)) {
			return cm
		}
		rv = cm.ResourceVersion
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", config.DefaultBundleConfigMap).String(),
		ResourceVersion: rv,
	})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := watchtools.UntilWithoutRetry(ctx, w, func(ev k8swatch.Event) (bool, error) {
		cm, ok := ev.Object.(*corev1.ConfigMap)
		return ok && ev.Type == k8swatch.Modified && cond(configMapBundle(t, cm)), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s in ConfigMap spire/spire-bundle: %v", what, err)
	}
	return ev.Object.(*corev1.ConfigMap)
}

// configMapBundle returns the certificates of cm's bundle.crt.
func configMapBundle(t *testing.T, cm *corev1.ConfigMap) []*x509.Certificate {
	return parsePEM(t, []byte(cm.Data[config.DefaultBundleConfigMapKey]))
}

// parsePEM parses PEM certificates.
func parsePEM(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return certs
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("parse PEM certificate: %v", err)
		}
		certs = append(certs, cert)
	}
}

// TestK8sPSATRealAPIServer runs the Kubernetes flow of TestK8sPSATEndToEnd
// against a real kube-apiserver instead of a fake: the server publishes
// its bundle into the spire-bundle ConfigMap and keeps it current across a
// CA rotation; an agent bootstrapped from that ConfigMap attests with a
// pod-bound token from the TokenRequest API, which the server has
// reviewed by TokenReview, and serves a workload; tokens of a service
// account outside the allow list, and of a deleted pod, are refused.
func TestK8sPSATRealAPIServer(t *testing.T) {
	kc := newKubeCluster(t)
	// A 30 s CA: its successor is prepared, and joins the bundle, at
	// half life, within the test.
	e := startServer(t, testenv.Options{CATTL: 30 * time.Second, SVIDTTL: 10 * time.Second,
		CARotationCheckInterval: 200 * time.Millisecond, ServerConfig: kc.serverConfig})

	// The notifier publishes the bundle the agent bootstraps from.
	first := parsePEM(t, e.BundlePEM(t))
	if len(first) != 1 {
		t.Fatalf("bundle has %d authorities, want 1", len(first))
	}
	cm := kc.waitBundle(t, "the initial bundle", "", func(got []*x509.Certificate) bool { return sameCerts(got, first) })

	// An agent bootstraps from the ConfigMap as it is now, as one in a
	// DaemonSet pod mounting it would.
	agentConfig := func(t *testing.T, name, tokenPath string) *config.Agent {
		cfg := e.AgentConfig(t, name, "")
		now, err := kc.admin.CoreV1().ConfigMaps("spire").Get(context.Background(), config.DefaultBundleConfigMap, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg.TrustBundlePath, []byte(now.Data[config.DefaultBundleConfigMapKey]), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg.NodeAttestor = config.NodeAttestorK8sPSAT
		cfg.K8sPSAT = &config.K8sPSATAttestor{Cluster: psatCluster, TokenPath: tokenPath}
		return cfg
	}

	t.Run("agent attests with a pod-bound token", func(t *testing.T) {
		pod := kc.pod(t, "spire-agent-x7k2p", "spire-agent")
		e.CreateEntries(t, []*types.Entry{{
			SpiffeId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: "/k8s-cluster/" + psatCluster},
			ParentId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: "/spire/server"},
			Selectors: []*types.Selector{{Type: "k8s_psat", Value: "cluster:" + psatCluster}},
		}})
		e.CreateEntry(t, workloadEntry("/k8s-cluster/"+psatCluster, "/db", 0))
		ag := e.StartAgentWith(t, "psat", agentConfig(t, "psat", kc.writeToken(t, pod)))

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := agentv1.NewAgentClient(e.Conn()).ListAgents(ctx, &agentv1.ListAgentsRequest{})
		if err != nil || len(list.Agents) != 1 {
			t.Fatalf("ListAgents = %v, %v", list, err)
		}
		got := list.Agents[0]
		wantID := "spiffe://" + trustDomain + "/spire/agent/k8s_psat/" + psatCluster + "/" + string(kc.node.UID)
		if id := "spiffe://" + got.Id.TrustDomain + got.Id.Path; id != wantID {
			t.Errorf("agent ID = %s, want %s", id, wantID)
		}
		var sels []string
		for _, s := range got.Selectors {
			sels = append(sels, s.Type+":"+s.Value)
		}
		slices.Sort(sels)
		want := []string{
			"k8s_psat:agent_node_ip:192.0.2.10",
			"k8s_psat:agent_node_label:topology.kubernetes.io/zone:zone-a",
			"k8s_psat:agent_node_name:node-1",
			"k8s_psat:agent_node_uid:" + string(kc.node.UID),
			"k8s_psat:agent_ns:spire",
			"k8s_psat:agent_pod_name:spire-agent-x7k2p",
			"k8s_psat:agent_pod_uid:" + string(pod.UID),
			"k8s_psat:agent_sa:spire-agent",
			"k8s_psat:cluster:" + psatCluster,
			"spiffe_id:" + wantID,
		}
		if !slices.Equal(sels, want) {
			t.Errorf("agent selectors:\n got %q\nwant %q", sels, want)
		}
		watch(t, ag.Client(t)).waitFor(t, 15*time.Second, "the workload SVID via the node entry", func(x *workloadapi.X509Context) bool {
			return len(x.SVIDs) == 1 && x.SVIDs[0].ID.Path() == "/db"
		})
	})

	refused := []struct {
		name string
		pod  func(t *testing.T) string // returns the token file
		want string
	}{
		{
			name: "service account not in the allow list",
			pod: func(t *testing.T) string {
				if _, err := kc.admin.CoreV1().ServiceAccounts("spire").Create(context.Background(),
					&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "intruder"}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				return kc.writeToken(t, kc.pod(t, "intruder", "intruder"))
			},
			want: `"spire:intruder" is not in service_account_allow_list`,
		},
		{
			name: "deleted pod",
			pod: func(t *testing.T) string {
				pod := kc.pod(t, "spire-agent-gone", "spire-agent")
				path := kc.writeToken(t, pod)
				kc.deletePod(t, pod)
				return path
			},
			// The TokenReview itself fails: the apiserver checks that a
			// bound token's pod still exists.
			want: "not authenticated by the TokenReview API",
		},
	}
	for _, tc := range refused {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-")
			err := e.RunAgentExpectingFailure(t, name, agentConfig(t, name, tc.pod(t)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("agent error = %v, want one containing %q", err, tc.want)
			}
		})
	}

	t.Run("bundle follows a CA rotation", func(t *testing.T) {
		// At half the CA's life (15 s) the next CA is prepared and joins
		// the bundle; the notifier publishes the bundle with both.
		got := kc.waitBundle(t, "the rotated bundle", cm.ResourceVersion, func(got []*x509.Certificate) bool {
			return len(got) == 2 && slices.ContainsFunc(got, first[0].Equal)
		})
		server := parsePEM(t, e.BundlePEM(t))
		for _, c := range configMapBundle(t, got) {
			if !slices.ContainsFunc(server, c.Equal) {
				t.Errorf("ConfigMap bundle holds an authority (serial %s) not in the server's bundle", c.SerialNumber)
			}
		}
	})
}
