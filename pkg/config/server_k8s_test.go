package config_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/config"
)

// quickstartServer is SPIRE's Kubernetes quickstart server.conf (the
// spire-tutorials ConfigMap) with the k8s_psat attestor; %s is the
// DataStore's plugin_data.
const quickstartServer = `server {
  bind_address = "0.0.0.0"
  bind_port = "8081"
  socket_path = "/tmp/spire-server/private/api.sock"
  trust_domain = "example.org"
  data_dir = "/run/spire/data"
  log_level = "DEBUG"
  #AWS requires the use of RSA.  EC cryptography is not supported
  ca_key_type = "rsa-2048"

  default_x509_svid_ttl = "1h"
  ca_subject = {
    country = ["US"],
    organization = ["SPIFFE"],
    common_name = "",
  }
}

plugins {
  DataStore "sql" {
    plugin_data {
%s
    }
  }

  NodeAttestor "k8s_psat" {
    plugin_data {
      clusters = {
        # NOTE: Change this to your cluster name
        "demo-cluster" = {
          service_account_allow_list = ["spire:spire-agent"]
        }
      }
    }
  }

  KeyManager "disk" {
    plugin_data {
      keys_path = "/run/spire/data/keys.json"
    }
  }

  Notifier "k8sbundle" {
    plugin_data {
    }
  }
}

health_checks {
  listener_enabled = true
  bind_address = "0.0.0.0"
  bind_port = "8080"
  live_path = "/live"
  ready_path = "/ready"
}
`

const sqliteData = `      database_type = "sqlite3"
      connection_string = "/run/spire/data/datastore.sqlite3"`

func TestQuickstartK8sServerConfig(t *testing.T) {
	s, warnings, err := config.ParseServer("server.conf", fmt.Appendf(nil, quickstartServer, sqliteData))
	if err != nil {
		t.Fatalf("ParseServer: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if !slices.Equal(s.NodeAttestors, []string{"k8s_psat"}) {
		t.Errorf("NodeAttestors = %q", s.NodeAttestors)
	}
	want := config.K8sPSATCluster{ServiceAccountAllowList: []string{"spire:spire-agent"}, Audience: []string{"spire-server"}}
	if s.K8sPSAT == nil || len(s.K8sPSAT.Clusters) != 1 || !equalCluster(s.K8sPSAT.Clusters["demo-cluster"], want) {
		t.Errorf("K8sPSAT = %+v, want demo-cluster %+v", s.K8sPSAT, want)
	}
	if got := s.K8sBundle; got == nil || *got != (config.K8sBundle{Namespace: "spire", ConfigMap: "spire-bundle", ConfigMapKey: "bundle.crt"}) {
		t.Errorf("K8sBundle = %+v, want SPIRE's defaults", got)
	}
	if s.DataStore.DatabaseType != "sqlite3" || s.KeyManager.Name != "disk" || s.CAKeyType != "rsa-2048" {
		t.Errorf("unexpected server config %+v", s)
	}
}

func equalCluster(a, b config.K8sPSATCluster) bool {
	return slices.Equal(a.ServiceAccountAllowList, b.ServiceAccountAllowList) &&
		slices.Equal(a.Audience, b.Audience) && (a.Audience == nil) == (b.Audience == nil) &&
		a.KubeConfigFile == b.KubeConfigFile &&
		slices.Equal(a.AllowedNodeLabelKeys, b.AllowedNodeLabelKeys) &&
		slices.Equal(a.AllowedPodLabelKeys, b.AllowedPodLabelKeys)
}

// TestQuickstartWithPostgreSQL: SPIRE's quickstart with its PostgreSQL
// DataStore loads in both libpq connection string forms, with every pool
// setting; the connection string is kept as written.
func TestQuickstartWithPostgreSQL(t *testing.T) {
	tests := []struct{ name, conn string }{
		{name: "key=value", conn: "dbname=spire user=spire password=s3cret host=spire-db port=5432 sslmode=verify-full sslrootcert=/run/spire/db/ca.pem"},
		{name: "URL", conn: "postgresql://spire:s3cret@spire-db:5432/spire?sslmode=verify-full&sslrootcert=/run/spire/db/ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "      database_type = \"postgres\"\n      connection_string = \"" + tt.conn + "\"\n" +
				"      ro_connection_string = \"host=replica\"\n      max_open_conns = 20\n      max_idle_conns = 5\n" +
				"      conn_max_lifetime = \"30m\"\n      disable_migration = true"
			s, _, err := config.ParseServer("server.conf", fmt.Appendf(nil, quickstartServer, data))
			if err != nil {
				t.Fatalf("ParseServer: %v", err)
			}
			want := config.DataStore{
				DatabaseType: "postgres", ConnectionString: tt.conn, ROConnectionString: "host=replica",
				MaxOpenConns: 20, MaxIdleConns: 5, ConnMaxLifetime: 30 * time.Minute, DisableMigration: true,
			}
			if s.DataStore != want {
				t.Errorf("DataStore = %+v, want %+v", s.DataStore, want)
			}
		})
	}
}

// lineOf returns the 1-based line of the first occurrence of marker.
func lineOf(t *testing.T, src, marker string) int {
	t.Helper()
	i := strings.Index(src, marker)
	if i < 0 {
		t.Fatalf("marker %q not in source", marker)
	}
	return strings.Count(src[:i], "\n") + 1
}

// k8sServer wraps plugins in a minimal valid server config.
func k8sServer(plugins string) string {
	return `server {
  trust_domain = "example.org"
  data_dir = "/tmp/data"
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "/tmp/data/datastore.sqlite3"
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
` + plugins + `
}
`
}

func TestK8sPSATAllSettings(t *testing.T) {
	src := k8sServer(`
  NodeAttestor "join_token" {
    plugin_data {}
  }
  NodeAttestor "k8s_psat" {
    plugin_data {
      clusters = {
        "demo" = {
          service_account_allow_list = ["spire:spire-agent", "infra:agent"]
          audience = ["spire-server", "svidkit"]
          kube_config_file = "/etc/kube/demo.conf"
          allowed_node_label_keys = ["topology.kubernetes.io/zone"]
          allowed_pod_label_keys = ["app", "team"]
        }
        "edge" = {
          service_account_allow_list = ["spire:spire-agent"]
          audience = []
        }
      }
    }
  }
  Notifier "k8sbundle" {
    plugin_data {
      namespace = "security"
      config_map = "trust-bundle"
      config_map_key = "ca.pem"
      kube_config_file_path = "/etc/kube/demo.conf"
    }
  }`)
	s, warnings, err := config.ParseServer("server.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if !slices.Equal(s.NodeAttestors, []string{"join_token", "k8s_psat"}) {
		t.Errorf("NodeAttestors = %q", s.NodeAttestors)
	}
	wantDemo := config.K8sPSATCluster{
		ServiceAccountAllowList: []string{"spire:spire-agent", "infra:agent"},
		Audience:                []string{"spire-server", "svidkit"},
		KubeConfigFile:          "/etc/kube/demo.conf",
		AllowedNodeLabelKeys:    []string{"topology.kubernetes.io/zone"},
		AllowedPodLabelKeys:     []string{"app", "team"},
	}
	// audience = [] means the apiserver's own audience: empty, not nil.
	wantEdge := config.K8sPSATCluster{ServiceAccountAllowList: []string{"spire:spire-agent"}, Audience: []string{}}
	if !equalCluster(s.K8sPSAT.Clusters["demo"], wantDemo) || !equalCluster(s.K8sPSAT.Clusters["edge"], wantEdge) {
		t.Errorf("clusters = %+v", s.K8sPSAT.Clusters)
	}
	if got := *s.K8sBundle; got != (config.K8sBundle{Namespace: "security", ConfigMap: "trust-bundle", ConfigMapKey: "ca.pem", KubeConfigFile: "/etc/kube/demo.conf"}) {
		t.Errorf("K8sBundle = %+v", got)
	}
}

func TestK8sPSATLegacyKeys(t *testing.T) {
	src := k8sServer(`
  NodeAttestor "k8s_psat" {
    plugin_data {
      clusters = {
        "demo-cluster" = {
          use_token_review_api_validation = true
          service_account_whitelist = ["spire:spire-agent"]
        }
      }
    }
  }`)
	s, warnings, err := config.ParseServer("server.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.K8sPSAT.Clusters["demo-cluster"].ServiceAccountAllowList; !slices.Equal(got, []string{"spire:spire-agent"}) {
		t.Errorf("allow list = %q", got)
	}
	want := []string{
		fmt.Sprintf("server.conf:%d: use_token_review_api_validation is a k8s_sat setting and is ignored", lineOf(t, src, "use_token_review")),
		fmt.Sprintf("server.conf:%d: service_account_whitelist is deprecated; use service_account_allow_list", lineOf(t, src, "service_account_whitelist")),
	}
	if len(warnings) != 2 || !strings.HasPrefix(warnings[0], want[0]) || warnings[1] != want[1] {
		t.Errorf("warnings = %q, want %q", warnings, want)
	}
}

func TestK8sServerPluginErrors(t *testing.T) {
	psat := func(cluster string) string {
		return `
  NodeAttestor "k8s_psat" {
    plugin_data {
      clusters = {
` + cluster + `
      }
    }
  }`
	}
	tests := []struct {
		name    string
		plugins string
		marker  string // the error is reported on this line
		msg     string
	}{
		{name: "unknown cluster key", plugins: psat(`"demo" = {
          service_account_allow_list = ["spire:spire-agent"]
          audiences = ["x"]
        }`), marker: "audiences", msg: `unknown key "audiences" in cluster "demo" of NodeAttestor "k8s_psat"`},
		{name: "allow list not a list", plugins: psat(`"demo" = {
          service_account_allow_list = 5
        }`), marker: "service_account_allow_list = 5", msg: "service_account_allow_list: want a string, got 5"},
		{name: "kube_config_file not a string", plugins: psat(`"demo" = {
          service_account_allow_list = ["spire:spire-agent"]
          kube_config_file = 1
        }`), marker: "kube_config_file = 1", msg: "kube_config_file: want a string, got 1"},
		{name: "label keys not strings", plugins: psat(`"demo" = {
          service_account_allow_list = ["spire:spire-agent"]
          allowed_pod_label_keys = [true]
        }`), marker: "[true]", msg: "allowed_pod_label_keys: want a list of strings"},
		{name: "missing allow list", plugins: psat(`"demo" = {
          audience = ["spire-server"]
        }`), marker: `"demo" = {`, msg: `NodeAttestor "k8s_psat": cluster "demo": missing required key "service_account_allow_list"`},
		{name: "cluster not a block", plugins: psat(`"demo" = "spire:spire-agent"`), marker: `"demo" =`, msg: `NodeAttestor "k8s_psat": cluster "demo": want a block { ... }`},
		{name: "empty clusters", plugins: psat(``), marker: "clusters = {", msg: `NodeAttestor "k8s_psat": clusters must configure at least one cluster`},
		{name: "missing clusters", plugins: `
  NodeAttestor "k8s_psat" {
    plugin_data {}
  }`, marker: `"k8s_psat"`, msg: `NodeAttestor "k8s_psat": missing required key "clusters"`},
		{name: "unknown plugin_data key", plugins: `
  NodeAttestor "k8s_psat" {
    plugin_data {
      cluster = "demo"
    }
  }`, marker: `cluster = "demo"`, msg: `unknown key "cluster" in plugin_data of NodeAttestor "k8s_psat"`},
		{name: "notifier unknown key", plugins: `
  Notifier "k8sbundle" {
    plugin_data {
      configmap = "x"
    }
  }`, marker: "configmap", msg: `unknown key "configmap" in plugin_data of Notifier "k8sbundle"`},
		{name: "notifier webhooks", plugins: `
  Notifier "k8sbundle" {
    plugin_data {
      webhook_label = "spiffe.io/webhook"
    }
  }`, marker: "webhook_label", msg: `key "webhook_label" in plugin_data of Notifier "k8sbundle" is a SPIRE setting svidkit does not support yet`},
		{name: "notifier namespace not a string", plugins: `
  Notifier "k8sbundle" {
    plugin_data {
      namespace = ["spire"]
    }
  }`, marker: "namespace", msg: "namespace: want a string"},
		{name: "notifier both kubeconfig keys", plugins: `
  Notifier "k8sbundle" {
    plugin_data {
      kube_config_file_path = "/a"
      kube_config_file = "/b"
    }
  }`, marker: "kube_config_file_path", msg: `Notifier "k8sbundle": set kube_config_file_path or kube_config_file, not both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := k8sServer(tt.plugins)
			_, _, err := config.ParseServer("server.conf", []byte(src))
			want := fmt.Sprintf("server.conf:%d: %s", lineOf(t, src, tt.marker), tt.msg)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v\nwant one containing %q", err, want)
			}
		})
	}
}
