package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/fakekubelet"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// TestK8sWorkloadAttestation runs the server and an agent whose config has
// WorkloadAttestor "k8s" next to "unix". The test process is the workload:
// a fake proc tree gives its pid the cgroup of a containerd container, and
// a fake kubelet on its secure port (TLS, bearer token) lists that
// container's pod. An entry with unix and k8s selectors is served to it;
// once its cgroup says it runs in a pod of another namespace, or on the
// host, it gets nothing.
func TestK8sWorkloadAttestation(t *testing.T) {
	const (
		token      = "agent-service-account-token"
		node       = "worker-1"
		billingUID = "7b0e1c52-3f7d-4a8e-9c61-2d5f8a4b9e10"
		billingCID = "5e9a1f3c7b2d4e6f8a0c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f"
		otherUID   = "c3a9d7e1-5b2f-4c8a-8e6d-1f4b7a9c2e50"
		otherCID   = "9c7e5a3b1d2f4e6a8c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a"
	)
	e := startServer(t, testenv.Options{})

	kubelet := fakekubelet.New(t, fakekubelet.Options{Secure: true, Token: token})
	kubelet.PutPod(fakekubelet.RunningPod("payments", "billing-6d8f9c7b5-q2xkz", billingUID, "billing", node,
		map[string]string{"app": "billing"},
		fakekubelet.Container{Name: "billing", Image: "registry.example.com/billing:2.4.1", ID: "containerd://" + billingCID}))
	// Same service account name, different namespace: must not match.
	kubelet.PutPod(fakekubelet.RunningPod("sandbox", "billing-copy", otherUID, "billing", node, nil,
		fakekubelet.Container{Name: "billing", Image: "registry.example.com/billing:2.4.1", ID: "containerd://" + otherCID}))

	secrets := t.TempDir()
	tokenPath := filepath.Join(secrets, "token")
	if err := os.WriteFile(tokenPath, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	procRoot := t.TempDir()
	setCgroup := func(content string) {
		t.Helper()
		dir := filepath.Join(procRoot, strconv.Itoa(os.Getpid()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	containerd := func(podUID, cid string) string {
		return "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
			strings.ReplaceAll(podUID, "-", "_") + ".slice/cri-containerd-" + cid + ".scope\n"
	}
	setCgroup(containerd(billingUID, billingCID))

	// The plugin settings come from an agent.conf as a DaemonSet would
	// carry it; only the proc root (no HCL key) is set in the runtime
	// config.
	cfg := e.AgentConfig(t, "k8s", e.JoinToken(t, "/node"))
	plugins, _, err := config.DecodeAgent("agent.conf", []byte(fmt.Sprintf(`plugins {
  WorkloadAttestor "unix" {}
  WorkloadAttestor "k8s" {
    plugin_data {
      kubelet_secure_port = %d
      kubelet_ca_path = %q
      token_path = %q
      max_poll_attempts = 3
      poll_retry_interval = "20ms"
    }
  }
}`, kubelet.Port(), kubelet.WriteCA(t, secrets, "ca.crt"), tokenPath)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Unix, cfg.K8s = plugins.Unix, plugins.K8s
	cfg.K8s.ProcRoot = procRoot
	ag := e.StartAgentWith(t, "k8s", cfg)

	const billingPath = "/ns/payments/sa/billing"
	e.CreateEntries(t, []*types.Entry{{
		SpiffeId: &types.SPIFFEID{TrustDomain: trustDomain, Path: billingPath},
		ParentId: &types.SPIFFEID{TrustDomain: trustDomain, Path: "/node"},
		Selectors: []*types.Selector{
			{Type: "k8s", Value: "ns:payments"},
			{Type: "k8s", Value: "sa:billing"},
			{Type: "unix", Value: fmt.Sprintf("uid:%d", os.Getuid())},
		},
	}})
	billingID := "spiffe://" + trustDomain + billingPath

	c := ag.Client(t)
	t.Run("pod in the entry's namespace gets the SVID", func(t *testing.T) {
		x := watch(t, c).waitFor(t, 10*time.Second, "the billing SVID", func(x *workloadapi.X509Context) bool {
			return ids(x)[billingID] != nil
		})
		if _, _, err := x509svid.Verify(ids(x)[billingID].Certificates, x.Bundles); err != nil {
			t.Fatalf("SVID does not verify: %v", err)
		}
		if n := len(x.SVIDs); n != 1 {
			t.Errorf("got %d SVIDs, want 1", n)
		}
	})

	sdsDefault := func(t *testing.T) (*tlsv3.Secret, error) {
		t.Helper()
		conn, err := grpc.NewClient("unix://"+ag.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := secretv3.NewSecretDiscoveryServiceClient(conn).FetchSecrets(ctx, &discoveryv3.DiscoveryRequest{
			Node: &corev3.Node{Id: "envoy", Cluster: "billing"}, TypeUrl: secretTypeURL, ResourceNames: []string{"default"}})
		if err != nil {
			return nil, err
		}
		for _, r := range resp.Resources {
			sec := &tlsv3.Secret{}
			if err := r.UnmarshalTo(sec); err != nil {
				t.Fatal(err)
			}
			if sec.Name == "default" {
				return sec, nil
			}
		}
		return nil, nil
	}
	t.Run("SDS caller attested by the same attestors", func(t *testing.T) {
		sec, err := sdsDefault(t)
		if err != nil || sec == nil {
			t.Fatalf("FetchSecrets default = %v, %v", sec, err)
		}
		leaf := parseLeaf(t, sec.GetTlsCertificate().GetCertificateChain().GetInlineBytes())
		if got := leaf.URIs[0].String(); got != billingID {
			t.Fatalf("SDS default SVID is %s, want %s", got, billingID)
		}
		// A pod the kubelet never lists fails the k8s attestor, and with it
		// the SDS call.
		setCgroup(containerd("00000000-1111-4222-8333-444444444444", billingCID))
		defer setCgroup(containerd(billingUID, billingCID))
		if _, err := sdsDefault(t); status.Code(err) != codes.Internal {
			t.Fatalf("FetchSecrets for an unlisted pod: %v, want Internal (attestation failed)", err)
		}
	})

	denied := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svid, err := c.FetchX509SVID(ctx)
		if err == nil {
			t.Fatalf("FetchX509SVID = %s, want PermissionDenied", svid.ID)
		}
		if status.Code(errors.Unwrap(err)) != codes.PermissionDenied && status.Code(err) != codes.PermissionDenied {
			t.Fatalf("FetchX509SVID error = %v, want PermissionDenied", err)
		}
	}
	t.Run("pod in another namespace gets none", func(t *testing.T) {
		setCgroup(containerd(otherUID, otherCID))
		denied(t)
	})
	t.Run("host process gets no k8s selectors and none", func(t *testing.T) {
		setCgroup("0::/user.slice/user-1000.slice/session-2.scope\n")
		denied(t)
	})
	t.Run("kubelet saw the bearer token", func(t *testing.T) {
		auth := kubelet.Authorizations()
		if len(auth) == 0 {
			t.Fatal("the kubelet got no requests")
		}
		for _, a := range auth {
			if a != "Bearer "+token {
				t.Errorf("Authorization = %q, want the service-account token", a)
			}
		}
	})
}
