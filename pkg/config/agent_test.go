package config_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

const validAgent = `agent {
    data_dir = "./.data"
    log_level = "DEBUG"
    server_address = "127.0.0.1"
    server_port = "8081"
    socket_path ="/tmp/spire-agent/public/api.sock"
    trust_bundle_path = "./conf/agent/dummy_root_ca.crt"
    trust_domain = "example.org"
}

plugins {
    NodeAttestor "join_token" {
        plugin_data {
        }
    }
    KeyManager "disk" {
        plugin_data {
            directory = "./.data"
        }
    }
    WorkloadAttestor "unix" {
        plugin_data {
            discover_workload_path = true
        }
    }
}
`

func TestParseAgentValid(t *testing.T) {
	a, warnings, err := config.ParseAgent("agent.conf", []byte(validAgent))
	if err != nil {
		t.Fatalf("ParseAgent: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"DataDir", a.DataDir, "./.data"},
		{"ServerAddress", a.ServerAddress, "127.0.0.1"},
		{"ServerPort", a.ServerPort, 8081},
		{"SocketPath", a.SocketPath, "/tmp/spire-agent/public/api.sock"},
		{"TrustBundlePath", a.TrustBundlePath, "./conf/agent/dummy_root_ca.crt"},
		{"TrustBundleFormat default", a.TrustBundleFormat, "pem"},
		{"TrustDomain", a.TrustDomain.Name(), "example.org"},
		{"NodeAttestor", a.NodeAttestor, "join_token"},
		{"KeyManager", a.KeyManager, config.KeyManager{Name: "disk", Path: "./.data"}},
		{"Unix configured", a.Unix != nil, true},
		{"Unix.DiscoverWorkloadPath", a.Unix != nil && a.Unix.DiscoverWorkloadPath, true},
		{"Health default", a.Health, config.NewAgent().Health},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

func TestParseAgentDefaults(t *testing.T) {
	conf := `agent {
  data_dir = "/d"
  server_address = "spire-server"
  trust_domain = "example.org"
  insecure_bootstrap = true
}
plugins {
  NodeAttestor "join_token" {}
  KeyManager "memory" {}
}`
	a, warnings, err := config.ParseAgent("agent.conf", []byte(conf))
	if err != nil {
		t.Fatalf("ParseAgent: %v", err)
	}
	if a.SocketPath != "/tmp/spire-agent/public/api.sock" || a.ServerPort != 8081 || a.LogLevel != "INFO" {
		t.Errorf("defaults: socket %q port %d level %q", a.SocketPath, a.ServerPort, a.LogLevel)
	}
	wantWarn := []string{
		"agent.conf:5: insecure_bootstrap = true",
		"agent.conf:7: no WorkloadAttestor configured",
	}
	for _, w := range wantWarn {
		found := false
		for _, got := range warnings {
			found = found || strings.HasPrefix(got, w)
		}
		if !found {
			t.Errorf("warnings %q lack %q", warnings, w)
		}
	}
}

func TestParseAgentErrors(t *testing.T) {
	// #MARK is on line 5; #PLUGIN on line 9.
	base := `agent {
  data_dir = "/d"
  server_address = "spire-server"
  trust_domain = "example.org"
  #MARK
}
plugins {
  KeyManager "memory" {}
  #PLUGIN
}
`
	joinToken := `NodeAttestor "join_token" {}`
	tests := []struct {
		name   string
		mark   string
		plugin string
		want   []string
	}{
		{name: "unknown key", mark: `server_adress = "x"`, plugin: joinToken,
			want: []string{`agent.conf:5: unknown key "server_adress" in agent block`}},
		{name: "unknown sds key", mark: `sds { default_name = "x" }`, plugin: joinToken,
			want: []string{`agent.conf:5: unknown key "default_name" in sds block`}},
		{name: "retry_bootstrap not supported", mark: `retry_bootstrap = true`, plugin: joinToken,
			want: []string{`agent.conf:5: key "retry_bootstrap" in agent block is a SPIRE setting`}},
		{name: "authorized_delegates not supported", mark: `authorized_delegates = ["spiffe://x/y"]`, plugin: joinToken,
			want: []string{`agent.conf:5: key "authorized_delegates" in agent block is a SPIRE setting`}},
		{name: "no trust bundle", plugin: joinToken,
			want: []string{`missing trust bundle: set trust_bundle_path or trust_bundle_url, or insecure_bootstrap = true`}},
		{name: "two trust sources", mark: `trust_bundle_path = "/b.pem" insecure_bootstrap = true`, plugin: joinToken,
			want: []string{`only one of trust_bundle_path, trust_bundle_url and insecure_bootstrap`}},
		{name: "http bundle url", mark: `trust_bundle_url = "http://example.org/bundle"`, plugin: joinToken,
			want: []string{`trust_bundle_url "http://example.org/bundle": want an https:// URL`}},
		{name: "bad bundle format", mark: `trust_bundle_path = "/b" trust_bundle_format = "der"`, plugin: joinToken,
			want: []string{`trust_bundle_format: unknown format "der"`}},
		{name: "insecure_bootstrap not bool", mark: `insecure_bootstrap = "yes"`, plugin: joinToken,
			want: []string{`agent.conf:5: insecure_bootstrap: want true or false, got "yes"`}},
		{name: "bad server port", mark: `trust_bundle_path = "/b" server_port = -1`, plugin: joinToken,
			want: []string{`server_port: port -1 out of range`}},
		{name: "no node attestor", mark: `insecure_bootstrap = true`,
			want: []string{`missing NodeAttestor plugin ("join_token" or "k8s_psat")`}},
		{name: "unsupported node attestor", mark: `insecure_bootstrap = true`, plugin: `NodeAttestor "aws_iid" {}`,
			want: []string{`agent.conf:9: NodeAttestor "aws_iid" is a SPIRE plugin svidkit does not support yet`}},
		{name: "k8s_psat without cluster", mark: `insecure_bootstrap = true`, plugin: `NodeAttestor "k8s_psat" {}`,
			want: []string{`agent.conf:9: NodeAttestor "k8s_psat": missing required key "cluster" in plugin_data`}},
		{name: "k8s_psat empty cluster", mark: `insecure_bootstrap = true`,
			plugin: `NodeAttestor "k8s_psat" { plugin_data { cluster = "" } }`,
			want:   []string{`agent.conf:9: NodeAttestor "k8s_psat": missing required key "cluster"`}},
		{name: "k8s_psat unknown key", mark: `insecure_bootstrap = true`,
			plugin: "NodeAttestor \"k8s_psat\" {\n plugin_data {\n cluster = \"c\"\n tokn_path = \"/t\"\n }\n}",
			want:   []string{`agent.conf:12: unknown key "tokn_path" in plugin_data of NodeAttestor "k8s_psat"`}},
		{name: "k8s_psat cluster not a string", mark: `insecure_bootstrap = true`,
			plugin: "NodeAttestor \"k8s_psat\" {\n plugin_data {\n cluster = [\"c\"]\n }\n}",
			want:   []string{`agent.conf:11: cluster:`}},
		{name: "k8s_psat empty token path", mark: `insecure_bootstrap = true`,
			plugin: `NodeAttestor "k8s_psat" { plugin_data { cluster = "c" token_path = "" } }`,
			want:   []string{`agent.conf:9: NodeAttestor "k8s_psat": token_path must not be empty`}},
		{name: "k8s_psat with join token", mark: `insecure_bootstrap = true join_token = "abc"`,
			plugin: `NodeAttestor "k8s_psat" { plugin_data { cluster = "c" } }`,
			want:   []string{`join_token (or -joinToken) is set but the NodeAttestor is "k8s_psat"`}},
		{name: "two node attestors", mark: `insecure_bootstrap = true`,
			plugin: joinToken + "\nNodeAttestor \"k8s_psat\" { plugin_data { cluster = \"c\" } }",
			want:   []string{`want exactly one NodeAttestor, got 2`}},
		{name: "unsupported workload attestor", mark: `insecure_bootstrap = true`, plugin: joinToken + "\nWorkloadAttestor \"docker\" {}",
			want: []string{`agent.conf:10: WorkloadAttestor "docker" is a SPIRE plugin svidkit does not support yet`}},
		{name: "unsupported svid store", mark: `insecure_bootstrap = true`, plugin: joinToken + "\nSVIDStore \"aws_secretsmanager\" {}",
			want: []string{`agent.conf:10: SVIDStore "aws_secretsmanager" is a SPIRE plugin svidkit does not support yet`}},
		{name: "unknown unix option", mark: `insecure_bootstrap = true`, plugin: joinToken + "\nWorkloadAttestor \"unix\" { plugin_data { workload_size_limit = 1 } }",
			want: []string{`agent.conf:10: unknown key "workload_size_limit" in plugin_data of WorkloadAttestor "unix"`}},
		{name: "disk key manager without directory", mark: `insecure_bootstrap = true`,
			plugin: joinToken + "\nKeyManager \"disk\" {}",
			want:   []string{`agent.conf:10: KeyManager "disk": missing required key "directory"`, `want exactly one KeyManager, got 2`}},
		{name: "server key manager on agent", mark: `insecure_bootstrap = true`, plugin: joinToken + "\nKeyManager \"aws_kms\" {}",
			want: []string{`agent.conf:10: unknown KeyManager plugin "aws_kms"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := strings.NewReplacer("#MARK", tc.mark, "#PLUGIN", tc.plugin).Replace(base)
			a, _, err := config.ParseAgent("agent.conf", []byte(conf))
			if err == nil {
				t.Fatalf("ParseAgent succeeded (%+v), want error containing %q", a, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseAgentMissingRequired(t *testing.T) {
	_, _, err := config.ParseAgent("agent.conf", []byte(`agent { }`))
	if err == nil {
		t.Fatal("ParseAgent succeeded on an empty agent block")
	}
	for _, key := range []string{`"trust_domain"`, `"server_address"`, `"data_dir"`, "trust_bundle_path",
		`NodeAttestor plugin ("join_token" or "k8s_psat")`, "KeyManager"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
	if !strings.HasPrefix(err.Error(), "agent.conf: ") {
		t.Errorf("error %q does not start with the file name", err)
	}
}

func TestCheckJoinToken(t *testing.T) {
	tests := []struct {
		name      string
		attestor  string
		token     string
		haveSVID  bool
		wantError bool
	}{
		{"token and no SVID", config.NodeAttestorJoinToken, "abc", false, false},
		{"SVID and no token", config.NodeAttestorJoinToken, "", true, false},
		{"neither", config.NodeAttestorJoinToken, "", false, true},
		{"k8s_psat needs no token", config.NodeAttestorK8sPSAT, "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := config.NewAgent()
			a.NodeAttestor = tc.attestor
			a.JoinToken = tc.token
			err := a.CheckJoinToken(tc.haveSVID)
			if (err != nil) != tc.wantError {
				t.Fatalf("CheckJoinToken = %v, want error %v", err, tc.wantError)
			}
			if err != nil && !strings.Contains(err.Error(), "-joinToken") {
				t.Errorf("error %q does not name -joinToken", err)
			}
		})
	}
}

func TestParseLogLevel(t *testing.T) {
	for _, lvl := range []string{"debug", "INFO", "Warn", "ERROR"} {
		t.Run(lvl, func(t *testing.T) {
			if _, err := config.ParseLogLevel(lvl); err != nil {
				t.Fatalf("ParseLogLevel(%q): %v", lvl, err)
			}
		})
	}
	if _, err := config.ParseLogLevel("TRACE"); err == nil {
		t.Error("ParseLogLevel(TRACE) succeeded")
	}
}

func TestParseAgentSDS(t *testing.T) {
	data := strings.Replace(validAgent, `trust_domain = "example.org"`, `trust_domain = "example.org"
    sds {
        default_svid_name = "svid"
        default_bundle_name = "roots"
        default_all_bundles_name = "every"
        disable_spiffe_cert_validation = true
    }`, 1)
	a, _, err := config.ParseAgent("agent.conf", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := config.SDS{DefaultSVIDName: "svid", DefaultBundleName: "roots", DefaultAllBundlesName: "every", DisableSPIFFECertValidation: true}
	if a.SDS != want {
		t.Fatalf("SDS = %+v, want %+v", a.SDS, want)
	}
}

func TestParseAgentK8sPSAT(t *testing.T) {
	tests := []struct {
		name   string
		plugin string
		want   config.K8sPSATAttestor
	}{
		{
			name:   "default token path",
			plugin: `NodeAttestor "k8s_psat" { plugin_data { cluster = "demo-cluster" } }`,
			want:   config.K8sPSATAttestor{Cluster: "demo-cluster", TokenPath: "/var/run/secrets/tokens/spire-agent"},
		},
		{
			name: "explicit token path",
			plugin: `NodeAttestor "k8s_psat" {
        plugin_data {
            cluster = "c"
            token_path = "/path"
        }
    }`,
			want: config.K8sPSATAttestor{Cluster: "c", TokenPath: "/path"},
		},
		{
			name:   "nested-object form",
			plugin: `NodeAttestor { k8s_psat { plugin_data { cluster = "c" } } }`,
			want:   config.K8sPSATAttestor{Cluster: "c", TokenPath: config.DefaultPSATTokenPath},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(validAgent, `NodeAttestor "join_token" {
        plugin_data {
        }
    }`, tc.plugin, 1)
			a, _, err := config.ParseAgent("agent.conf", []byte(data))
			if err != nil {
				t.Fatalf("ParseAgent: %v", err)
			}
			if a.NodeAttestor != config.NodeAttestorK8sPSAT {
				t.Errorf("NodeAttestor = %q, want k8s_psat", a.NodeAttestor)
			}
			if a.K8sPSAT == nil || *a.K8sPSAT != tc.want {
				t.Fatalf("K8sPSAT = %+v, want %+v", a.K8sPSAT, tc.want)
			}
			if err := a.CheckJoinToken(false); err != nil {
				t.Errorf("CheckJoinToken(false) = %v, want nil for k8s_psat", err)
			}
		})
	}
}

// TestParseAgentSVIDCacheMaxSizes: SPIRE's jwt_svid_cache_max_size and
// x509_svid_cache_max_size are read as SPIRE reads them (0 or absent: the
// default), and a negative size is refused naming the key and its line.
func TestParseAgentSVIDCacheMaxSizes(t *testing.T) {
	jwt := func(a *config.Agent) int { return a.JWTSVIDCacheMaxSize }
	x509 := func(a *config.Agent) int { return a.X509SVIDCacheMaxSize }
	tests := []struct {
		name    string
		setting string // added after trust_domain, line 9
		got     func(*config.Agent) int
		want    int
		wantErr string
	}{
		{"jwt absent", "", jwt, 0, ""},
		{"jwt set", "jwt_svid_cache_max_size = 5000", jwt, 5000, ""},
		{"jwt zero means the default", "jwt_svid_cache_max_size = 0", jwt, 0, ""},
		{"jwt negative", "jwt_svid_cache_max_size = -1", jwt, 0, `agent.conf:9: jwt_svid_cache_max_size: want a positive number, or 0 for the default, got -1`},
		{"jwt not a number", `jwt_svid_cache_max_size = "many"`, jwt, 0, `agent.conf:9: jwt_svid_cache_max_size: want a number`},
		{"x509 absent", "", x509, 0, ""},
		{"x509 set", "x509_svid_cache_max_size = 50", x509, 50, ""},
		{"x509 zero means the default", "x509_svid_cache_max_size = 0", x509, 0, ""},
		{"x509 negative", "x509_svid_cache_max_size = -10", x509, 0, `agent.conf:9: x509_svid_cache_max_size: want a positive number, or 0 for the default, got -10`},
		{"x509 not a number", `x509_svid_cache_max_size = "many"`, x509, 0, `agent.conf:9: x509_svid_cache_max_size: want a number`},
		{"SPIRE's removed disable_lru_cache is unknown", "disable_lru_cache = true", x509, 0, `agent.conf:9`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(validAgent, `trust_domain = "example.org"`, "trust_domain = \"example.org\"\n    "+tt.setting, 1)
			a, _, err := config.ParseAgent("agent.conf", []byte(data))
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case tt.got(a) != tt.want:
				t.Fatalf("size = %d, want %d", tt.got(a), tt.want)
			}
		})
	}
}
