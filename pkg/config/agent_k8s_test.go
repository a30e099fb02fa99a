package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/config"
)

// k8sAgent is an agent config whose WorkloadAttestor "k8s" plugin_data
// replaces #DATA, on line 12.
const k8sAgent = `agent {
  data_dir = "/run/spire/data"
  server_address = "spire-server"
  trust_domain = "example.org"
  trust_bundle_path = "/run/spire/bundle/bundle.crt"
}
plugins {
  NodeAttestor "join_token" {}
  KeyManager "memory" {}
  WorkloadAttestor "k8s" {
    plugin_data {
#DATA
    }
  }
  WorkloadAttestor "unix" {}
}
`

func parseK8s(t *testing.T, data string) (*config.Agent, []string, error) {
	t.Helper()
	return config.ParseAgent("agent.conf", []byte(strings.Replace(k8sAgent, "#DATA", data, 1)))
}

func TestParseAgentK8s(t *testing.T) {
	tests := []struct {
		name         string
		data         string
		want         config.K8sAttestor
		wantWarnings []string
	}{
		{
			name: "defaults",
			want: config.K8sAttestor{NodeNameEnv: "MY_NODE_NAME"},
		},
		{
			// The SPIRE Kubernetes quickstart's agent ConfigMap.
			name: "quickstart",
			data: `skip_kubelet_verification = true`,
			want: config.K8sAttestor{NodeNameEnv: "MY_NODE_NAME", SkipKubeletVerification: true},
		},
		{
			name: "secure port, every key",
			data: `kubelet_secure_port = 10250
      kubelet_ca_path = "/run/secrets/kubelet-ca.crt"
      token_path = "/var/run/secrets/tokens/kubelet"
      node_name_env = "NODE_NAME"
      node_name = "worker-3"
      max_poll_attempts = 30
      poll_retry_interval = "200ms"
      disable_container_selectors = true`,
			want: config.K8sAttestor{
				KubeletSecurePort: 10250, KubeletCAPath: "/run/secrets/kubelet-ca.crt",
				TokenPath: "/var/run/secrets/tokens/kubelet", NodeNameEnv: "NODE_NAME", NodeName: "worker-3",
				MaxPollAttempts: 30, PollRetryInterval: 200 * time.Millisecond, DisableContainerSelectors: true,
			},
		},
		{
			name: "client certificate",
			data: `certificate_path = "/certs/agent.crt"
      private_key_path = "/certs/agent.key"`,
			want: config.K8sAttestor{NodeNameEnv: "MY_NODE_NAME", CertificatePath: "/certs/agent.crt", PrivateKeyPath: "/certs/agent.key"},
		},
		{
			name: "read-only port as a string, as SPIRE accepts",
			data: `kubelet_read_only_port = "10255"`,
			want: config.K8sAttestor{NodeNameEnv: "MY_NODE_NAME", KubeletReadOnlyPort: 10255},
		},
		{
			name: "SPIRE tuning keys are ignored with a warning",
			data: `reload_interval = "5m"
      use_new_container_locator = true
      verbose_container_locator_logs = false
      experimental {
        sigstore {
          allowed_identities = { "https://token.actions.githubusercontent.com" = ["https://github.com/org/*"] }
        }
      }`,
			want: config.K8sAttestor{NodeNameEnv: "MY_NODE_NAME"},
			wantWarnings: []string{
				`agent.conf:12: WorkloadAttestor "k8s": reload_interval is ignored`,
				`agent.conf:13: WorkloadAttestor "k8s": use_new_container_locator is ignored`,
				`agent.conf:14: WorkloadAttestor "k8s": verbose_container_locator_logs is ignored`,
				`agent.conf:15: WorkloadAttestor "k8s": experimental is ignored: experimental features (sigstore image verification) are not supported`,
			},
		},
		{
			name:         "TLS settings on the read-only port",
			data:         `kubelet_read_only_port = 10255 skip_kubelet_verification = true`,
			want:         config.K8sAttestor{NodeNameEnv: "MY_NODE_NAME", KubeletReadOnlyPort: 10255, SkipKubeletVerification: true},
			wantWarnings: []string{`agent.conf:12: plugin_data of WorkloadAttestor "k8s": kubelet_read_only_port is plain HTTP`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, warnings, err := parseK8s(t, tt.data)
			if err != nil {
				t.Fatalf("ParseAgent: %v", err)
			}
			if a.K8s == nil {
				t.Fatal("K8s is nil")
			}
			if *a.K8s != tt.want {
				t.Errorf("K8s = %+v\nwant  %+v", *a.K8s, tt.want)
			}
			if a.Unix == nil {
				t.Error("the unix attestor next to k8s was dropped")
			}
			if len(warnings) != len(tt.wantWarnings) {
				t.Errorf("warnings = %q, want %d", warnings, len(tt.wantWarnings))
			}
			for i, w := range tt.wantWarnings {
				if i < len(warnings) && !strings.HasPrefix(warnings[i], w) {
					t.Errorf("warning %d = %q, want it to start with %q", i, warnings[i], w)
				}
			}
		})
	}
}

func TestParseAgentK8sErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{name: "unknown key", data: `kubelet_port = 10250`,
			want: `agent.conf:12: unknown key "kubelet_port" in plugin_data of WorkloadAttestor "k8s"`},
		{name: "port not a number", data: `kubelet_secure_port = "secure"`,
			want: `agent.conf:12: kubelet_secure_port: want a number, got "secure"`},
		{name: "bool as string", data: `skip_kubelet_verification = "true"`,
			want: `agent.conf:12: skip_kubelet_verification: want true or false, got "true"`},
		{name: "path not a string", data: `token_path = 5`,
			want: `agent.conf:12: token_path: want a string, got 5`},
		{name: "both ports", data: "kubelet_read_only_port = 10255\n kubelet_secure_port = 10250",
			want: `agent.conf:13: plugin_data of WorkloadAttestor "k8s": set kubelet_read_only_port or kubelet_secure_port, not both`},
		{name: "port out of range", data: `kubelet_secure_port = 70000`,
			want: `agent.conf:12: plugin_data of WorkloadAttestor "k8s": kubelet_secure_port: port 70000 out of range`},
		{name: "negative attempts", data: `max_poll_attempts = -1`,
			want: `agent.conf:12: plugin_data of WorkloadAttestor "k8s": max_poll_attempts: want a positive number, got -1`},
		{name: "bad interval", data: `poll_retry_interval = "soon"`,
			want: `agent.conf:12: poll_retry_interval: invalid duration "soon"`},
		{name: "certificate without key", data: `certificate_path = "/c.crt"`,
			want: `agent.conf:12: plugin_data of WorkloadAttestor "k8s": certificate_path and private_key_path must be set together`},
		{name: "experimental not a block", data: `experimental = true`,
			want: `agent.conf:12: experimental: want a block { ... }`},
		{name: "duplicate key", data: "node_name = \"a\"\n node_name = \"b\"",
			want: `agent.conf:13: duplicate key "node_name" in plugin_data of WorkloadAttestor "k8s"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, err := parseK8s(t, tt.data)
			if err == nil {
				t.Fatalf("ParseAgent succeeded (%+v), want error %q", a.K8s, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

func TestK8sAttestorResolveNodeName(t *testing.T) {
	env := map[string]string{"MY_NODE_NAME": "from-default-env", "NODE": "from-custom-env"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name string
		k    config.K8sAttestor
		want string
	}{
		{name: "default env", k: config.K8sAttestor{}, want: "from-default-env"},
		{name: "custom env", k: config.K8sAttestor{NodeNameEnv: "NODE"}, want: "from-custom-env"},
		{name: "node_name wins", k: config.K8sAttestor{NodeNameEnv: "NODE", NodeName: "worker-1"}, want: "worker-1"},
		{name: "unset env", k: config.K8sAttestor{NodeNameEnv: "UNSET"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.k.ResolveNodeName(getenv); got != tt.want {
				t.Errorf("ResolveNodeName = %q, want %q", got, tt.want)
			}
		})
	}
}
