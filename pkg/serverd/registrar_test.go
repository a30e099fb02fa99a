package serverd_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/svidkit/svidkit/internal/kubeenv"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/serverd"
)

const registrarServerConf = `server {
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
  KeyManager "memory" {
    plugin_data {}
  }
}

registrar {
  cluster_name = "demo"
  cluster_domain = "cluster.local"
  kube_config_file = %q
}
`

// TestRegistrarThroughServer: a server configured with a registrar block,
// authenticated as deploy/k8s's spire-server service account (so its RBAC
// is enough), registers a pod selected by a ClusterSPIFFEID (a manifest as
// SPIRE's documentation writes it) against a real kube-apiserver; the
// entry is served by the entry API.
func TestRegistrarThroughServer(t *testing.T) {
	env := kubeenv.Start(t)
	env.InstallCRDs(t, "../../deploy/k8s/crds")
	// The server runs as deploy/k8s's spire-server service account, with
	// exactly the RBAC there, in namespace spire (its Lease's).
	env.Apply(t, "../../deploy/k8s/namespace.yaml", "../../deploy/k8s/server-rbac.yaml")
	t.Setenv("POD_NAMESPACE", "spire")
	dir := t.TempDir()
	kubeconfig := kubeenv.Kubeconfig(t, dir, env.TokenConfig(env.Token(t, "spire", "spire-server", nil)))
	socket := filepath.Join(dir, "api.sock")
	conf := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, registrarServerConf, socket, dir, filepath.Join(dir, "datastore.sqlite3"), kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "csid.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: spire.spiffe.io/v1alpha1
kind: ClusterSPIFFEID
metadata:
  name: default
spec:
  spiffeIDTemplate: "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}"
  podSelector:
    matchLabels:
      spiffe.io/spiffe-id: "true"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env.Apply(t, manifest)
	cfg, _, err := config.LoadServer(conf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- serverd.Run(ctx, cfg, serverd.Options{Log: slog.New(slog.DiscardHandler), Started: func(*server.Server) { close(started) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serverd.Run: %v", err)
		}
	})
	select {
	case <-started:
	case err := <-done:
		done <- err
		t.Fatalf("server exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server not listening")
	}

	kcfg := rest.CopyConfig(env.Config)
	kube, err := kubernetes.NewForConfig(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	node, err := kube.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Pods("default").Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"spiffe.io/spiffe-id": "true"}},
		Spec:       corev1.PodSpec{NodeName: node.Name, ServiceAccountName: "web", Containers: []corev1.Container{{Name: "c", Image: "x"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := entryv1.NewEntryClient(conn)
	// The entry API has no watch: poll it, bounded by a deadline.
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	wantParent := "/spire/agent/k8s_psat/demo/" + string(node.UID)
	for {
		resp, err := client.ListEntries(t.Context(), &entryv1.ListEntriesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Entries) == 1 && resp.Entries[0].SpiffeId.Path == "/ns/default/sa/web" && resp.Entries[0].ParentId.Path == wantParent {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("entries %v, want one for spiffe://example.org/ns/default/sa/web under %s", resp.Entries, wantParent)
		case <-tick.C:
		}
	}
}
