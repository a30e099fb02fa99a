package config_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

// registrarServer is SPIRE's quickstart server with a registrar block.
func registrarServer(block string) string {
	return fmt.Sprintf(quickstartServer, sqliteData) + block
}

func TestRegistrarBlock(t *testing.T) {
	tests := []struct {
		name  string
		block string
		want  *config.Registrar
	}{
		{"absent", "", nil},
		{"defaults", `
registrar {
  cluster_name = "demo"
}`, &config.Registrar{ClusterName: "demo", Reconcile: config.RegistrarReconcile{ClusterSPIFFEIDs: true, ClusterStaticEntries: true, ClusterFederatedTrustDomains: true}}},
		{"every setting", `
registrar {
  cluster_name = "demo"
  cluster_domain = "corp.local"
  ignore_namespaces = ["kube-system", "spire"]
  parent_id_template = "spiffe://{{ .TrustDomain }}/node/{{ .NodeMeta.Name }}"
  class_name = "blue"
  watch_classless = true
  kube_config_file = "/etc/kubeconfig"
  reconcile {
    cluster_spiffe_ids = true
    cluster_static_entries = false
    cluster_federated_trust_domains = false
  }
}`, &config.Registrar{
			ClusterName: "demo", ClusterDomain: "corp.local", IgnoreNamespaces: []string{"kube-system", "spire"},
			ParentIDTemplate: "spiffe://{{ .TrustDomain }}/node/{{ .NodeMeta.Name }}", ClassName: "blue", WatchClassless: true,
			KubeConfigFile: "/etc/kubeconfig", Reconcile: config.RegistrarReconcile{ClusterSPIFFEIDs: true},
		}},
		{"no ignored namespaces", `
registrar {
  cluster_name = "demo"
  ignore_namespaces = []
}`, &config.Registrar{ClusterName: "demo", IgnoreNamespaces: []string{}, Reconcile: config.RegistrarReconcile{ClusterSPIFFEIDs: true, ClusterStaticEntries: true, ClusterFederatedTrustDomains: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := config.ParseServer("server.conf", []byte(registrarServer(tt.block)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.Registrar, tt.want) {
				t.Fatalf("Registrar = %+v, want %+v", s.Registrar, tt.want)
			}
		})
	}
}

func TestRegistrarBlockErrors(t *testing.T) {
	tests := []struct {
		name, block, marker, msg string
	}{
		{"missing cluster name", "\nregistrar {\n  class_name = \"x\"\n}", "registrar {", `registrar: missing required key "cluster_name"`},
		{"unknown key", "\nregistrar {\n  cluster_name = \"demo\"\n  clustername = \"x\"\n}", "clustername", `unknown key "clustername" in registrar block`},
		{"bad template", "\nregistrar {\n  cluster_name = \"demo\"\n  parent_id_template = \"{{ .X\"\n}", "parent_id_template", "parent_id_template: template:"},
		{"watch_classless not a bool", "\nregistrar {\n  cluster_name = \"demo\"\n  watch_classless = \"x\"\n}", "watch_classless", "watch_classless: want true or false"},
		{"unknown reconcile key", "\nregistrar {\n  cluster_name = \"demo\"\n  reconcile {\n    pods = true\n  }\n}", "pods = true", `unknown key "pods" in reconcile block of registrar`},
		{"not a block", "\nregistrar = \"x\"", "registrar =", "registrar: want a block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := registrarServer(tt.block)
			_, _, err := config.ParseServer("server.conf", []byte(src))
			want := fmt.Sprintf("server.conf:%d: %s", lineOf(t, src, tt.marker), tt.msg)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v\nwant one containing %q", err, want)
			}
		})
	}
}
