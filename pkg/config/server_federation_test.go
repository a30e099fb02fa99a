package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/config"
)

// federationBase is a valid server configuration whose federation block
// is replaced by each case; the block starts on line 4.
const federationBase = `server {
  trust_domain = "example.org"
  data_dir = "/d"
#FED
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/d/ds.db" } }
  KeyManager "memory" {}
}
`

func parseFederation(t *testing.T, fed string) (*config.Server, []string, error) {
	t.Helper()
	return config.ParseServer("server.conf", []byte(strings.Replace(federationBase, "#FED", fed, 1)))
}

func TestFederationDecode(t *testing.T) {
	tests := []struct {
		name     string
		fed      string
		want     config.Federation
		warnings []string
	}{
		{
			name: "defaults with https_spiffe",
			fed:  `federation { bundle_endpoint { profile "https_spiffe" {} } }`,
			want: config.Federation{BundleEndpoint: &config.BundleEndpoint{
				Address: "0.0.0.0", Port: 8443, RefreshHint: 5 * time.Minute, Profile: "https_spiffe"}},
		},
		{
			name: "no profile falls back to https_spiffe with a warning",
			fed:  `federation { bundle_endpoint { address = "127.0.0.1" } }`,
			want: config.Federation{BundleEndpoint: &config.BundleEndpoint{
				Address: "127.0.0.1", Port: 8443, RefreshHint: 5 * time.Minute, Profile: "https_spiffe"}},
			warnings: []string{`server.conf:4: bundle_endpoint has no profile; using "https_spiffe"`},
		},
		{
			name: "https_web with serving_cert_file",
			fed: `federation {
  bundle_endpoint {
    address = "127.0.0.1"
    port = "9443"
    refresh_hint = "10m"
    profile "https_web" {
      serving_cert_file = {
        cert_file_path = "/c.pem"
        key_file_path = "/k.pem"
        file_sync_interval = "30s"
      }
    }
  }
}`,
			want: config.Federation{BundleEndpoint: &config.BundleEndpoint{
				Address: "127.0.0.1", Port: 9443, RefreshHint: 10 * time.Minute, Profile: "https_web",
				ServingCertFile: &config.ServingCertFile{CertFilePath: "/c.pem", KeyFilePath: "/k.pem", FileSyncInterval: 30 * time.Second}}},
		},
		{
			name: "serving_cert_file default sync interval",
			fed:  `federation { bundle_endpoint { profile "https_web" { serving_cert_file { cert_file_path = "/c" key_file_path = "/k" } } } }`,
			want: config.Federation{BundleEndpoint: &config.BundleEndpoint{
				Address: "0.0.0.0", Port: 8443, RefreshHint: 5 * time.Minute, Profile: "https_web",
				ServingCertFile: &config.ServingCertFile{CertFilePath: "/c", KeyFilePath: "/k", FileSyncInterval: time.Hour}}},
		},
		{
			name:     "low refresh hint warns",
			fed:      `federation { bundle_endpoint { refresh_hint = "10s" profile "https_spiffe" {} } }`,
			want:     config.Federation{BundleEndpoint: &config.BundleEndpoint{Address: "0.0.0.0", Port: 8443, RefreshHint: 10 * time.Second, Profile: "https_spiffe"}},
			warnings: []string{`server.conf:4: refresh_hint 10s is below one minute`},
		},
		{
			name: "federates_with both profiles in file order",
			fed: `federation {
  federates_with "domain2.test" {
    bundle_endpoint_url = "https://5.6.7.8:8443"
    bundle_endpoint_profile "https_spiffe" {
      endpoint_spiffe_id = "spiffe://domain2.test/beserver"
    }
  }
  federates_with "spiffe://domain1.test" {
    bundle_endpoint_url = "https://1.2.3.4:8443"
    bundle_endpoint_profile "https_web" {}
  }
}`,
			want: config.Federation{FederatesWith: []config.FederatesWith{
				{TrustDomain: td(t, "domain2.test"), BundleEndpointURL: "https://5.6.7.8:8443", Profile: "https_spiffe",
					EndpointSPIFFEID: spiffeID(t, "spiffe://domain2.test/beserver")},
				{TrustDomain: td(t, "domain1.test"), BundleEndpointURL: "https://1.2.3.4:8443", Profile: "https_web"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, warnings, err := parseFederation(t, tt.fed)
			if err != nil {
				t.Fatalf("ParseServer: %v", err)
			}
			if s.Federation == nil {
				t.Fatal("Federation is nil")
			}
			got := *s.Federation
			if !federationEqual(got, tt.want) {
				t.Errorf("Federation = %s\nwant %s", dumpFederation(got), dumpFederation(tt.want))
			}
			for _, w := range tt.warnings {
				if !slices.ContainsFunc(warnings, func(s string) bool { return strings.HasPrefix(s, w) }) {
					t.Errorf("warnings %q lack %q", warnings, w)
				}
			}
			if len(tt.warnings) == 0 && len(warnings) != 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

func TestFederationNone(t *testing.T) {
	s, _, err := parseFederation(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Federation != nil {
		t.Errorf("Federation = %+v, want nil without a federation block", s.Federation)
	}
}

func TestFederationErrors(t *testing.T) {
	tests := []struct {
		name string
		fed  string // replaces line 4
		want []string
	}{
		{name: "acme in bundle_endpoint",
			fed:  "federation {\n bundle_endpoint {\n  acme { domain_name = \"example.org\" email = \"a@b\" }\n } }",
			want: []string{`server.conf:6: bundle_endpoint acme: ACME is not supported by svidkit`}},
		{name: "acme in https_web profile",
			fed:  "federation {\n bundle_endpoint {\n  profile \"https_web\" {\n   acme { domain_name = \"example.org\" }\n } } }",
			want: []string{`server.conf:7: profile "https_web" acme: ACME is not supported by svidkit`}},
		{name: "https_web without serving_cert_file",
			fed:  "federation {\n bundle_endpoint {\n  profile \"https_web\" {}\n } }",
			want: []string{`server.conf:6: profile "https_web": missing required block "serving_cert_file"`}},
		{name: "serving_cert_file without paths",
			fed:  "federation {\n bundle_endpoint {\n  profile \"https_web\" {\n serving_cert_file { file_sync_interval = \"1m\" } } } }",
			want: []string{`server.conf:7: serving_cert_file: missing required key "cert_file_path"`, `server.conf:7: serving_cert_file: missing required key "key_file_path"`}},
		{name: "bad file_sync_interval",
			fed:  "federation {\n bundle_endpoint {\n  profile \"https_web\" {\n serving_cert_file { cert_file_path = \"/c\" key_file_path = \"/k\"\n file_sync_interval = \"often\" } } } }",
			want: []string{`server.conf:8: file_sync_interval: invalid duration "often"`}},
		{name: "unknown key in serving_cert_file",
			fed:  "federation {\n bundle_endpoint {\n  profile \"https_web\" {\n serving_cert_file { cert_file_path = \"/c\" key_file_path = \"/k\"\n cert_path = \"x\" } } } }",
			want: []string{`server.conf:8: unknown key "cert_path" in serving_cert_file block`}},
		{name: "unknown profile",
			fed:  "federation {\n bundle_endpoint {\n  profile \"https_acme\" {}\n } }",
			want: []string{`server.conf:6: unknown bundle endpoint profile "https_acme"`}},
		{name: "profile without label",
			fed:  "federation {\n bundle_endpoint {\n  profile = \"https_spiffe\"\n } }",
			want: []string{`server.conf:6: profile: want profile "https_spiffe" {}`}},
		{name: "two profiles",
			fed:  "federation {\n bundle_endpoint {\n  profile \"https_spiffe\" {}\n  profile \"https_spiffe\" {}\n } }",
			want: []string{`server.conf:7: duplicate key "profile" in bundle_endpoint block`}},
		{name: "key in https_spiffe profile",
			fed:  "federation {\n bundle_endpoint {\n  profile \"https_spiffe\" { endpoint_spiffe_id = \"spiffe://x/y\" }\n } }",
			want: []string{`server.conf:6: unknown key "endpoint_spiffe_id" in profile "https_spiffe" block`}},
		{name: "bad port",
			fed:  "federation {\n bundle_endpoint {\n  port = 99999\n profile \"https_spiffe\" {} } }",
			want: []string{`server.conf:6: bundle_endpoint port: port 99999 out of range`}},
		{name: "port collides with bind_port",
			fed:  "federation {\n bundle_endpoint {\n  port = 8081\n profile \"https_spiffe\" {} } }",
			want: []string{`server.conf:6: bundle_endpoint port 8081 is also the server's bind_port`}},
		{name: "bad refresh_hint",
			fed:  "federation {\n bundle_endpoint {\n  refresh_hint = \"soon\"\n profile \"https_spiffe\" {} } }",
			want: []string{`server.conf:6: refresh_hint: invalid duration "soon"`}},
		{name: "zero refresh_hint",
			fed:  "federation {\n bundle_endpoint {\n  refresh_hint = \"0s\"\n profile \"https_spiffe\" {} } }",
			want: []string{`server.conf:6: refresh_hint must be positive`}},
		{name: "empty address",
			fed:  "federation {\n bundle_endpoint {\n  address = \"\"\n profile \"https_spiffe\" {} } }",
			want: []string{`server.conf:5: bundle_endpoint address must not be empty`}},
		{name: "unknown bundle_endpoint key",
			fed:  "federation {\n bundle_endpoint {\n  listen = \"x\"\n profile \"https_spiffe\" {} } }",
			want: []string{`server.conf:6: unknown key "listen" in bundle_endpoint block`}},
		{name: "unknown federation key",
			fed:  "federation {\n trust_bundle = \"x\" }",
			want: []string{`server.conf:5: unknown key "trust_bundle" in federation block`}},
		{name: "federation not a block",
			fed:  `federation = "yes"`,
			want: []string{`server.conf:4: federation: want a block { ... }`}},
		{name: "federates_with without label",
			fed:  "federation {\n federates_with { bundle_endpoint_url = \"https://x\" } }",
			want: []string{`server.conf:5: federates_with: want federates_with "<trust domain>" { ... }`}},
		{name: "federates_with bad trust domain",
			fed:  "federation {\n federates_with \"Bad.Domain\" {\n bundle_endpoint_url = \"https://x\"\n bundle_endpoint_profile \"https_web\" {} } }",
			want: []string{`server.conf:5: federates_with "Bad.Domain": invalid trust domain`}},
		{name: "federates_with missing url",
			fed:  "federation {\n federates_with \"d.test\" {\n bundle_endpoint_profile \"https_web\" {} } }",
			want: []string{`server.conf:5: federates_with "d.test": missing required key "bundle_endpoint_url"`}},
		{name: "federates_with http url",
			fed:  "federation {\n federates_with \"d.test\" {\n bundle_endpoint_url = \"http://1.2.3.4:8443\"\n bundle_endpoint_profile \"https_web\" {} } }",
			want: []string{`server.conf:6: federates_with "d.test": bundle_endpoint_url "http://1.2.3.4:8443" must be an https:// URL`}},
		{name: "federates_with missing profile",
			fed:  "federation {\n federates_with \"d.test\" {\n bundle_endpoint_url = \"https://1.2.3.4:8443\" } }",
			want: []string{`server.conf:5: federates_with "d.test": missing required block bundle_endpoint_profile`}},
		{name: "federates_with unknown profile",
			fed:  "federation {\n federates_with \"d.test\" {\n bundle_endpoint_url = \"https://1.2.3.4:8443\"\n bundle_endpoint_profile \"https_acme\" {} } }",
			want: []string{`server.conf:7: federates_with "d.test": unknown bundle_endpoint_profile "https_acme"`}},
		{name: "https_spiffe without endpoint_spiffe_id",
			fed:  "federation {\n federates_with \"d.test\" {\n bundle_endpoint_url = \"https://1.2.3.4:8443\"\n bundle_endpoint_profile \"https_spiffe\" {} } }",
			want: []string{`server.conf:7: federates_with "d.test": bundle_endpoint_profile "https_spiffe": missing required key "endpoint_spiffe_id"`}},
		{name: "https_spiffe bad endpoint_spiffe_id",
			fed:  "federation {\n federates_with \"d.test\" {\n bundle_endpoint_url = \"https://1.2.3.4:8443\"\n bundle_endpoint_profile \"https_spiffe\" { endpoint_spiffe_id = \"d.test/server\" } } }",
			want: []string{`server.conf:7: federates_with "d.test": endpoint_spiffe_id "d.test/server"`}},
		{name: "endpoint_spiffe_id in https_web",
			fed:  "federation {\n federates_with \"d.test\" {\n bundle_endpoint_url = \"https://1.2.3.4:8443\"\n bundle_endpoint_profile \"https_web\" {\n endpoint_spiffe_id = \"spiffe://d.test/s\" } } }",
			want: []string{`server.conf:8: unknown key "endpoint_spiffe_id" in bundle_endpoint_profile "https_web" block of federates_with "d.test"`}},
		{name: "federates_with twice",
			fed:  "federation {\n federates_with \"d.test\" {\n bundle_endpoint_url = \"https://1.2.3.4\"\n bundle_endpoint_profile \"https_web\" {} }\n federates_with \"spiffe://d.test\" {\n bundle_endpoint_url = \"https://1.2.3.4\"\n bundle_endpoint_profile \"https_web\" {} } }",
			want: []string{`server.conf:8: federates_with "d.test" is configured twice`}},
		{name: "federates_with own trust domain",
			fed:  "federation {\n federates_with \"example.org\" {\n bundle_endpoint_url = \"https://1.2.3.4\"\n bundle_endpoint_profile \"https_web\" {} } }",
			want: []string{`server.conf:5: federates_with "example.org": a server cannot federate with its own trust domain`}},
		{name: "unknown federates_with key",
			fed:  "federation {\n federates_with \"d.test\" {\n bundle_endpoint_url = \"https://1.2.3.4\"\n bundle_endpoint {}\n bundle_endpoint_profile \"https_web\" {} } }",
			want: []string{`server.conf:7: unknown key "bundle_endpoint" in federates_with "d.test" block`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseFederation(t, tt.fed)
			if err == nil {
				t.Fatalf("ParseServer succeeded, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}
