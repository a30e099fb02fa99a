package serverd_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/internal/fakekube"
	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/serverd"
)

const k8sServerConf = `server {
  bind_address = "127.0.0.1"
  bind_port = "0"
  socket_path = %q
  trust_domain = "example.org"
  data_dir = %q
}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = %q
    }
  }
  NodeAttestor "k8s_psat" {
    plugin_data {
      clusters = {
        "demo" = {
          service_account_allow_list = ["spire:spire-agent"]
          kube_config_file = %q
        }
      }
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  Notifier "k8sbundle" {
    plugin_data {
      kube_config_file_path = %[4]q
    }
  }
}
`

// TestKubernetesDeployment runs the server daemon from a Kubernetes-style
// config: the notifier publishes the bundle to the ConfigMap, and an agent
// that bootstraps trust from that ConfigMap attests with k8s_psat.
func TestKubernetesDeployment(t *testing.T) {
	api := fakekube.New(t)
	api.PutConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "spire", Name: "spire-bundle"}})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", UID: "node-uid-1"}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "spire", Name: "spire-agent-abcde", UID: "pod-uid-1"},
		Spec:       corev1.PodSpec{NodeName: "node-1", ServiceAccountName: "spire-agent"},
		Status:     corev1.PodStatus{HostIP: "10.0.0.1"},
	}
	api.PutNode(node)
	api.PutPod(pod)
	api.AddToken("psat", fakekube.Token{Audiences: []string{"spire-server"}, User: fakekube.BoundUser(pod, node)})

	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("", "svk") // socket paths must stay short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	confPath := filepath.Join(dir, "server.conf")
	conf := fmt.Sprintf(k8sServerConf, filepath.Join(sockDir, "api.sock"), dir,
		filepath.Join(dir, "datastore.sqlite3"), api.Kubeconfig(t, dir))
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.LoadServer(confPath)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *server.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- serverd.Run(ctx, cfg, serverd.Options{Log: slog.New(slog.DiscardHandler), Started: func(s *server.Server) { started <- s }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serverd.Run: %v", err)
		}
	})
	var srv *server.Server
	select {
	case srv = <-started:
	case err := <-done:
		done <- err
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start listening")
	}

	// The bundle appears in the ConfigMap.
	td := spiffeid.RequireTrustDomainFromString("example.org")
	var bundle *x509bundle.Bundle
	deadline := time.Now().Add(10 * time.Second)
	for bundle == nil {
		if data := api.ConfigMap("spire", "spire-bundle").Data["bundle.crt"]; data != "" {
			if bundle, err = x509bundle.Parse(td, []byte(data)); err != nil {
				t.Fatalf("ConfigMap bundle.crt: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bundle not published to the ConfigMap")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// An agent trusting only that bundle attests with its PSAT.
	serverID := spiffeid.RequireFromPath(td, "/spire/server")
	conn, err := grpc.NewClient(srv.TCPAddr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(serverID)))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	key := testca.NewKey(t)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]string{"cluster": "demo", "token": "psat"})
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	stream, err := agentv1.NewAgentClient(conn).AttestAgent(actx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{Params: &agentv1.AttestAgentRequest_Params{
		Data:   &types.AttestationData{Type: "k8s_psat", Payload: payload},
		Params: &agentv1.AgentX509SVIDParams{Csr: csr},
	}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("AttestAgent: %v", err)
	}
	if !resp.GetResult().GetReattestable() {
		t.Error("k8s_psat agent not reattestable")
	}
	leaf, err := x509.ParseCertificate(resp.GetResult().GetSvid().GetCertChain()[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://example.org/spire/agent/k8s_psat/demo/node-uid-1" {
		t.Fatalf("agent SVID URIs = %v", leaf.URIs)
	}
}
