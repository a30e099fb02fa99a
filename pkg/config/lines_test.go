package config_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

// TestServerProblemLines checks the exact message of the server's
// whole-configuration problems: one line each, naming the file, the line
// of the key when the file set it, and the key.
func TestServerProblemLines(t *testing.T) {
	// #MARK is line 4, #TOP line 10.
	base := `server {
  trust_domain = "example.org"
  data_dir = "/d"
  #MARK
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/d/ds.db" } }
  KeyManager "memory" {}
}
#TOP
`
	tests := []struct {
		name      string
		mark, top string
		want      string // "" means valid
	}{
		{name: "port 0 picks a free port", mark: `bind_port = 0`},
		{name: "port 65535", mark: `bind_port = 65535`},
		{name: "port too high", mark: `bind_port = 70000`,
			want: `server.conf:4: bind_port: port 70000 out of range 0-65535`},
		{name: "negative port", mark: `bind_port = -1`,
			want: `server.conf:4: bind_port: port -1 out of range 0-65535`},
		{name: "health port", top: `health_checks { bind_port = 65536 }`,
			want: `server.conf:10: health_checks bind_port: port 65536 out of range 0-65535`},
		{name: "ca ttl not above default x509 ttl", mark: `ca_ttl = "1h"`,
			want: `server.conf:4: default_x509_svid_ttl (1h0m0s) must be shorter than ca_ttl (1h0m0s)`},
		{name: "x509 ttl above ca ttl, both set", mark: "ca_ttl = \"2h\"\n  default_x509_svid_ttl = \"3h\"",
			want: `server.conf:5: default_x509_svid_ttl (3h0m0s) must be shorter than ca_ttl (2h0m0s)`},
		{name: "deprecated x509 ttl key", mark: `default_svid_ttl = "25h"`,
			want: `server.conf:4: default_x509_svid_ttl (25h0m0s) must be shorter than ca_ttl (24h0m0s)`},
		{name: "jwt ttl not below ca ttl", mark: `default_jwt_svid_ttl = "24h"`,
			want: `server.conf:4: default_jwt_svid_ttl (24h0m0s) must be shorter than ca_ttl (24h0m0s)`},
		{name: "agent ttl above ca ttl", mark: `agent_ttl = "48h"`,
			want: `server.conf:4: agent_ttl (48h0m0s) must be shorter than ca_ttl (24h0m0s)`},
		{name: "bad log level", mark: `log_level = "LOUD"`,
			want: `server.conf:4: log_level: unknown log level "LOUD" (want DEBUG, INFO, WARN or ERROR)`},
		{name: "several problems, one line each in file order", mark: "bind_port = 70000\n  ca_ttl = \"10m\"\n  agent_ttl = \"2h\"\n  ca_key_type = \"ed25519\"",
			top: `health_checks { bind_port = -5 }`,
			want: `server.conf:4: bind_port: port 70000 out of range 0-65535
server.conf:5: default_x509_svid_ttl (1h0m0s) must be shorter than ca_ttl (10m0s)
server.conf:6: agent_ttl (2h0m0s) must be shorter than ca_ttl (10m0s)
server.conf:7: ca_key_type: unknown key type "ed25519" (want one of ec-p256, ec-p384, rsa-2048, rsa-4096)
server.conf:13: health_checks bind_port: port -5 out of range 0-65535`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := strings.NewReplacer("#MARK", tc.mark, "#TOP", tc.top).Replace(base)
			_, _, err := config.ParseServer("server.conf", []byte(conf))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("ParseServer: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("ParseServer accepted the file, want:\n%s", tc.want)
			case err.Error() != tc.want:
				t.Fatalf("error:\n%s\nwant:\n%s", err, tc.want)
			}
		})
	}
}

// TestServerProblemWithoutLine checks a problem with no key in the file
// (and one whose value came from a flag) is reported with the file only.
func TestServerProblemWithoutLine(t *testing.T) {
	s, _, err := config.DecodeServer("server.conf", []byte(`server {
  bind_port = 8081
  data_dir = "/d"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/d/ds.db" } }
  KeyManager "memory" {}
}
`))
	if err != nil {
		t.Fatal(err)
	}
	s.BindPort = 99999 // as -serverPort does
	s.Lines.Forget(config.ServerBlock, "bind_port")
	want := `server.conf: missing required key "trust_domain" in server block (or -trustDomain)
server.conf: bind_port: port 99999 out of range 0-65535`
	if err := s.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant:\n%s", err, want)
	}
}

// TestAgentProblemLines is TestServerProblemLines for the agent's range
// checks.
func TestAgentProblemLines(t *testing.T) {
	// #MARK is line 6, #TOP line 12.
	base := `agent {
  data_dir = "/d"
  server_address = "spire-server"
  trust_domain = "example.org"
  insecure_bootstrap = true
  #MARK
}
plugins {
  KeyManager "memory" {}
  NodeAttestor "join_token" {}
}
#TOP
`
	tests := []struct {
		name      string
		mark, top string
		want      string
	}{
		{name: "server port too high", mark: `server_port = 65536`,
			want: `agent.conf:6: server_port: port 65536 out of range 0-65535`},
		{name: "negative server port", mark: `server_port = -1`,
			want: `agent.conf:6: server_port: port -1 out of range 0-65535`},
		{name: "health port", top: `health_checks { bind_port = 100000 }`,
			want: `agent.conf:12: health_checks bind_port: port 100000 out of range 0-65535`},
		{name: "bad bundle format", mark: `trust_bundle_format = "der"`,
			want: `agent.conf:6: trust_bundle_format: unknown format "der" (want pem or spiffe)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := strings.NewReplacer("#MARK", tc.mark, "#TOP", tc.top).Replace(base)
			_, _, err := config.ParseAgent("agent.conf", []byte(conf))
			if err == nil {
				t.Fatalf("ParseAgent accepted the file, want:\n%s", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error:\n%s\nwant:\n%s", err, tc.want)
			}
		})
	}
}
