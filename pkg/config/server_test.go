package config_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/config"
)

const validServer = `server {
    bind_address = "127.0.0.1"
    bind_port = "8081"
    socket_path = "/tmp/spire-server/private/api.sock"
    trust_domain = "example.org"
    data_dir = "./.data"
    log_level = "DEBUG"
    ca_subject {
        country = ["US"]
        organization = ["SPIFFE"]
        common_name = ""
    }
}

plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = "./.data/datastore.sqlite3"
        }
    }

    NodeAttestor "join_token" {
        plugin_data {
        }
    }

    KeyManager "disk" {
        plugin_data {
            keys_path = "./.data/keys.json"
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

func TestParseServerValid(t *testing.T) {
	s, warnings, err := config.ParseServer("server.conf", []byte(validServer))
	if err != nil {
		t.Fatalf("ParseServer: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	abs, _ := filepath.Abs("./.data/datastore.sqlite3")
	checks := []struct {
		name      string
		got, want any
	}{
		{"BindAddress", s.BindAddress, "127.0.0.1"},
		{"BindPort", s.BindPort, 8081},
		{"TrustDomain", s.TrustDomain.Name(), "example.org"},
		{"DataDir", s.DataDir, "./.data"},
		{"LogLevel", s.LogLevel, "DEBUG"},
		{"LogFormat default", s.LogFormat, "text"},
		{"CATTL default", s.CATTL, 24 * time.Hour},
		{"DefaultX509SVIDTTL default", s.DefaultX509SVIDTTL, time.Hour},
		{"DefaultJWTSVIDTTL default", s.DefaultJWTSVIDTTL, 5 * time.Minute},
		{"CAKeyType default", s.CAKeyType, "ec-p256"},
		{"EffectiveJWTKeyType", s.EffectiveJWTKeyType(), "ec-p256"},
		{"CASubject.Country", strings.Join(s.CASubject.Country, ","), "US"},
		{"CASubject.Organization", strings.Join(s.CASubject.Organization, ","), "SPIFFE"},
		{"DataStore.DatabaseType", s.DataStore.DatabaseType, "sqlite3"},
		{"DataStore.ConnectionString", s.DataStore.ConnectionString, abs},
		{"KeyManager", s.KeyManager, config.KeyManager{Name: "disk", Path: "./.data/keys.json"}},
		{"NodeAttestors", strings.Join(s.NodeAttestors, ","), "join_token"},
		{"Health.ListenerEnabled", s.Health.ListenerEnabled, true},
		{"Health.Addr", s.Health.Addr(), "0.0.0.0:8080"},
		{"Health.LivePath", s.Health.LivePath, "/live"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

// minimalServer is the smallest valid server configuration; the
// defaults test and the override test start from it.
const minimalServer = `server {
  trust_domain = "example.org"
  data_dir = "/var/lib/svidkit"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/var/lib/svidkit/ds.db?_pragma=busy_timeout(5000)" } }
  KeyManager "memory" {}
}
`

func TestParseServerDefaults(t *testing.T) {
	s, _, err := config.ParseServer("server.conf", []byte(minimalServer))
	if err != nil {
		t.Fatalf("ParseServer: %v", err)
	}
	want := config.NewServer()
	checks := []struct {
		name      string
		got, want any
	}{
		{"BindAddress", s.BindAddress, "0.0.0.0"},
		{"BindPort", s.BindPort, 8081},
		{"SocketPath", s.SocketPath, "/tmp/spire-server/private/api.sock"},
		{"LogLevel", s.LogLevel, "INFO"},
		{"Health", s.Health, want.Health},
		{"Health.Addr", s.Health.Addr(), "0.0.0.0:80"},
		{"ConnectionString keeps query", s.DataStore.ConnectionString, "/var/lib/svidkit/ds.db?_pragma=busy_timeout(5000)"},
		{"KeyManager", s.KeyManager.Name, "memory"},
		{"JSON log format", s.LogFormat, "text"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

func TestParseServerDeprecatedKeys(t *testing.T) {
	conf := strings.Replace(minimalServer, `data_dir = "/var/lib/svidkit"`, `data_dir = "/var/lib/svidkit"
  default_svid_ttl = "2h"
  ca_ttl = "48h"
  registration_uds_path = "/run/old.sock"`, 1)
	s, warnings, err := config.ParseServer("server.conf", []byte(conf))
	if err != nil {
		t.Fatalf("ParseServer: %v", err)
	}
	if s.DefaultX509SVIDTTL != 2*time.Hour {
		t.Errorf("DefaultX509SVIDTTL = %v, want 2h", s.DefaultX509SVIDTTL)
	}
	if s.SocketPath != "/run/old.sock" {
		t.Errorf("SocketPath = %q, want /run/old.sock", s.SocketPath)
	}
	for _, want := range []string{
		"server.conf:4: default_svid_ttl is deprecated; use default_x509_svid_ttl",
		"server.conf:6: registration_uds_path is deprecated; use socket_path",
	} {
		found := false
		for _, w := range warnings {
			found = found || w == want
		}
		if !found {
			t.Errorf("warnings %q lack %q", warnings, want)
		}
	}
}

func TestDecodeServerThenOverride(t *testing.T) {
	conf := `server { data_dir = "/d" }
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/d/ds.db" } }
  KeyManager "memory" {}
}`
	if _, _, err := config.ParseServer("server.conf", []byte(conf)); err == nil ||
		!strings.Contains(err.Error(), `missing required key "trust_domain"`) {
		t.Fatalf("ParseServer error = %v, want missing trust_domain", err)
	}
	s, _, err := config.DecodeServer("server.conf", []byte(conf))
	if err != nil {
		t.Fatalf("DecodeServer: %v", err)
	}
	td, err := spiffeTD("example.org")
	if err != nil {
		t.Fatal(err)
	}
	s.TrustDomain = td
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate after override: %v", err)
	}
}

func TestParseServerErrors(t *testing.T) {
	// Each case replaces the marker line in a valid base configuration, so
	// the bad line is always line 3.
	base := `server {
  trust_domain = "example.org"
  #MARK
  data_dir = "/d"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/d/ds.db" } }
  KeyManager "memory" {}
  #PLUGIN
}
#TOP
`
	tests := []struct {
		name   string
		mark   string // replaces #MARK (line 3)
		plugin string // replaces #PLUGIN (line 9)
		top    string // replaces #TOP (line 11)
		td     string // replaces the trust_domain line (line 2)
		want   []string
	}{
		{name: "unknown key", mark: `bind_adress = "1.2.3.4"`,
			want: []string{`server.conf:3: unknown key "bind_adress" in server block`}},
		{name: "unsupported SPIRE key", mark: `audit_log_enabled = true`,
			want: []string{`server.conf:3: key "audit_log_enabled" in server block is a SPIRE setting svidkit does not support yet`}},
		{name: "bad duration", mark: `ca_ttl = "1d"`,
			want: []string{`server.conf:3: ca_ttl: invalid duration "1d"`}},
		{name: "duration not a string", mark: `default_jwt_svid_ttl = 300`,
			want: []string{`server.conf:3: default_jwt_svid_ttl: want a duration string`}},
		{name: "bad port", mark: `bind_port = "http"`,
			want: []string{`server.conf:3: bind_port: want a number, got "http"`}},
		{name: "port out of range", mark: `bind_port = 70000`,
			want: []string{`bind_port: port 70000 out of range`}},
		{name: "bad trust domain", td: `trust_domain = "Example.org"`,
			want: []string{`server.conf:2: trust_domain: invalid trust domain "Example.org"`}},
		{name: "duplicate key", mark: `trust_domain = "other.org"`,
			want: []string{`server.conf:3: duplicate key "trust_domain" in server block`}},
		{name: "bad log level", mark: `log_level = "LOUD"`,
			want: []string{`log_level: unknown log level "LOUD"`}},
		{name: "bad log format", mark: `log_format = "xml"`,
			want: []string{`log_format: unknown log format "xml"`}},
		{name: "bad key type", mark: `ca_key_type = "ed25519"`,
			want: []string{`ca_key_type: unknown key type "ed25519"`}},
		{name: "svid ttl not below ca ttl", mark: `ca_ttl = "1h"`,
			want: []string{`default_x509_svid_ttl (1h0m0s) must be shorter than ca_ttl (1h0m0s)`}},
		{name: "bool for string", mark: `jwt_issuer = true`,
			want: []string{`server.conf:3: jwt_issuer: want a string, got true`}},
		{name: "block for string", mark: `data_dir { }`,
			want: []string{`server.conf:3: data_dir: want a string`}},
		{name: "unknown ca_subject key", mark: `ca_subject { org = "x" }`,
			want: []string{`server.conf:3: unknown key "org" in ca_subject block`}},
		{name: "bad list", mark: `ca_subject { country = [1] }`,
			want: []string{`server.conf:3: country: want a list of strings`}},
		{name: "unsupported node attestor", plugin: `NodeAttestor "aws_iid" { plugin_data { } }`,
			want: []string{`server.conf:9: NodeAttestor "aws_iid" is a SPIRE plugin svidkit does not support yet`}},
		{name: "unsupported upstream authority", plugin: `UpstreamAuthority "disk" { plugin_data {} }`,
			want: []string{`server.conf:9: UpstreamAuthority "disk" is a SPIRE plugin svidkit does not support yet`}},
		{name: "unsupported key manager", plugin: `KeyManager "aws_kms" {}`,
			want: []string{`server.conf:9: KeyManager "aws_kms" is a SPIRE plugin svidkit does not support yet`}},
		{name: "unknown plugin", plugin: `NodeAttestor "join_tokn" {}`,
			want: []string{`server.conf:9: unknown NodeAttestor plugin "join_tokn"`}},
		{name: "unknown plugin type", plugin: `WorkloadAttestor "unix" {}`,
			want: []string{`server.conf:9: unknown plugin type "WorkloadAttestor" in plugins block`}},
		{name: "second data store", plugin: `DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/x" } }`,
			want: []string{`server.conf:6: plugins block: want exactly one DataStore, got 2`}},
		{name: "second key manager", plugin: `KeyManager "disk" { plugin_data { keys_path = "/k" } }`,
			want: []string{`server.conf:6: plugins block: want exactly one KeyManager, got 2`}},
		{name: "duplicate plugin", plugin: `KeyManager "memory" {}`,
			want: []string{`server.conf:9: duplicate KeyManager "memory" in plugins block`}},
		{name: "unknown plugin_data key", plugin: `NodeAttestor "join_token" { plugin_data { foo = 1 } }`,
			want: []string{`server.conf:9: unknown key "foo" in plugin_data of NodeAttestor "join_token"`}},
		{name: "external plugin", plugin: `NodeAttestor "join_token" { plugin_cmd = "/bin/x" }`,
			want: []string{`server.conf:9: key "plugin_cmd" in NodeAttestor "join_token" block is a SPIRE setting svidkit does not support yet`}},
		{name: "disk key manager without path", plugin: `KeyManager "disk" { plugin_data {} }`,
			want: []string{`server.conf:9: KeyManager "disk": missing required key "keys_path"`}},
		{name: "unknown top-level block", top: `servre { }`,
			want: []string{`server.conf:11: unknown key "servre" in top level`}},
		{name: "telemetry statsd", top: `telemetry { DogStatsd = [] }`,
			want: []string{`server.conf:11: key "DogStatsd" in telemetry block is a SPIRE setting svidkit does not support yet`}},
		{name: "telemetry prometheus without port", top: `telemetry { Prometheus { host = "0.0.0.0" } }`,
			want: []string{`server.conf:11: telemetry Prometheus: missing required key "port"`}},
		{name: "unknown health key", top: `health_checks { live = "/l" }`,
			want: []string{`server.conf:11: unknown key "live" in health_checks block`}},
		{name: "labelled server block", top: `server "x" { }`,
			want: []string{`server.conf:11: duplicate key "server" in top level`}},
		{name: "syntax error", mark: `bind_port = = 1`,
			want: []string{`server.conf:3:`, `syntax error`}},
		{name: "several errors at once", mark: `bind_adress = "x" ca_ttl = "z"`,
			want: []string{`unknown key "bind_adress"`, `ca_ttl: invalid duration "z"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := strings.NewReplacer("#MARK", tc.mark, "#PLUGIN", tc.plugin, "#TOP", tc.top).Replace(base)
			if tc.td != "" {
				conf = strings.Replace(conf, `trust_domain = "example.org"`, tc.td, 1)
			}
			s, _, err := config.ParseServer("server.conf", []byte(conf))
			if err == nil {
				t.Fatalf("ParseServer succeeded (%+v), want error containing %q", s, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseServerDataStore(t *testing.T) {
	tests := []struct {
		name, data string
		want       string
	}{
		{"mysql", `database_type = "mysql" connection_string = "x"`,
			`server.conf:5: DataStore "sql": database_type "mysql" is not supported (use "postgres" or "sqlite3")`},
		{"aws_postgres", `database_type = "aws_postgres" connection_string = "x"`,
			`server.conf:5: DataStore "sql": database_type "aws_postgres" is not supported`},
		{"aws_postgres block", "database_type \"aws_postgres\" {\n region = \"us-east-1\"\n}\nconnection_string = \"x\"",
			`server.conf:5: DataStore "sql": database_type "aws_postgres" is not supported`},
		{"negative pool size", `database_type = "postgres" connection_string = "x" max_open_conns = -1`,
			`server.conf:3: DataStore "sql": max_open_conns and max_idle_conns must not be negative`},
		{"bad lifetime", `database_type = "postgres" connection_string = "x" conn_max_lifetime = "soon"`,
			`server.conf:5: conn_max_lifetime: invalid duration "soon"`},
		{"unknown type", `database_type = "oracle" connection_string = "x"`,
			`server.conf:5: DataStore "sql": unknown database_type "oracle"`},
		{"missing type", `connection_string = "x"`,
			`server.conf:3: DataStore "sql": missing required key "database_type"`},
		{"missing connection string", `database_type = "sqlite3"`,
			`server.conf:3: DataStore "sql": missing required key "connection_string"`},
		{"unsupported option", `database_type = "sqlite3" connection_string = "x" log_sql = true`,
			`server.conf:5: unknown key "log_sql" in plugin_data of DataStore "sql"`},
		{"no data store", "", `missing DataStore "sql" plugin`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := "server { trust_domain = \"example.org\" data_dir = \"/d\" }\nplugins {\n" +
				"DataStore \"sql\" {\n plugin_data {\n" + tc.data + "\n} }\nKeyManager \"memory\" {} }"
			if tc.data == "" {
				conf = "server { trust_domain = \"example.org\" data_dir = \"/d\" }\nplugins { KeyManager \"memory\" {} }"
			}
			_, _, err := config.ParseServer("server.conf", []byte(conf))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q\nconfig:\n%s", err, tc.want, conf)
			}
		})
	}
}

func TestParseServerJSONRefused(t *testing.T) {
	_, _, err := config.ParseServer("server.json", []byte(`{"server": {"trust_domain": "example.org"}}`))
	if err == nil || !strings.Contains(err.Error(), "server.json: JSON configuration is not supported") {
		t.Fatalf("error = %v, want JSON refused", err)
	}
}

func TestLoadServerMissingFile(t *testing.T) {
	_, _, err := config.LoadServer(filepath.Join(t.TempDir(), "nope.conf"))
	if err == nil || !strings.Contains(err.Error(), "nope.conf") {
		t.Fatalf("LoadServer error = %v, want one naming the file", err)
	}
}

func TestParseServerTelemetry(t *testing.T) {
	tests := []struct {
		name     string
		block    string
		want     config.Telemetry
		warnings int
	}{
		{name: "prometheus default host", block: `telemetry { Prometheus { port = 9988 } }`,
			want: config.Telemetry{PrometheusEnabled: true, PrometheusHost: "localhost", PrometheusPort: 9988}},
		{name: "prometheus with host", block: `telemetry { Prometheus { host = "0.0.0.0" port = 9988 } }`,
			want: config.Telemetry{PrometheusEnabled: true, PrometheusHost: "0.0.0.0", PrometheusPort: 9988}},
		{name: "inmem ignored with a warning", block: `telemetry { InMem {} }`, warnings: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(`server {
  trust_domain = "example.org"
  data_dir = "/tmp/d"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/tmp/d/ds" } }
  KeyManager "memory" { plugin_data {} }
}
` + tt.block + "\n")
			cfg, warnings, err := config.ParseServer("server.conf", data)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Telemetry != tt.want {
				t.Fatalf("Telemetry = %+v, want %+v", cfg.Telemetry, tt.want)
			}
			if len(warnings) != tt.warnings {
				t.Fatalf("warnings = %q, want %d", warnings, tt.warnings)
			}
		})
	}
}
