package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/config"
)

// oidcServer is a minimal server configuration; %s goes inside the server
// block, which starts on line 1, so the first line of %s is line 5.
const oidcServer = `server {
  trust_domain = "example.org"
  data_dir = "/tmp/data"
  jwt_issuer = "https://oidc.example.org"
%s
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
}
`

func parseOIDC(block string) (*config.Server, error) {
	s, _, err := config.ParseServer("server.conf", []byte(strings.Replace(oidcServer, "%s", block, 1)))
	return s, err
}

// TestOIDCDiscoveryConfig: the oidc_discovery block decodes with SPIRE's
// defaults (port 443, file_sync_interval 1m) and the issuer JWT-SVIDs
// carry follows the block when the server block sets none.
func TestOIDCDiscoveryConfig(t *testing.T) {
	t.Run("absent", func(t *testing.T) {
		s, err := parseOIDC("")
		if err != nil {
			t.Fatal(err)
		}
		if s.OIDCDiscovery != nil {
			t.Fatalf("OIDCDiscovery = %+v, want nil", s.OIDCDiscovery)
		}
	})
	t.Run("TLS with defaults", func(t *testing.T) {
		s, err := parseOIDC(`  oidc_discovery {
    domains = ["oidc.example.org"]
    serving_cert_file {
      cert_file_path = "/certs/tls.crt"
      key_file_path = "/certs/tls.key"
    }
  }`)
		if err != nil {
			t.Fatal(err)
		}
		want := &config.OIDCDiscovery{
			Address: "0.0.0.0", Port: 443, Domains: []string{"oidc.example.org"},
			ServingCertFile: &config.ServingCertFile{CertFilePath: "/certs/tls.crt", KeyFilePath: "/certs/tls.key", FileSyncInterval: time.Minute},
		}
		if !reflect.DeepEqual(s.OIDCDiscovery, want) {
			t.Fatalf("OIDCDiscovery = %+v, want %+v", s.OIDCDiscovery, want)
		}
		if got := s.EffectiveJWTIssuer(); got != "https://oidc.example.org" {
			t.Errorf("EffectiveJWTIssuer = %q", got)
		}
	})
	t.Run("everything set, issuer only in the block", func(t *testing.T) {
		s, _, err := config.ParseServer("server.conf", []byte(strings.Replace(strings.Replace(oidcServer,
			`  jwt_issuer = "https://oidc.example.org"`, "", 1), "%s", `  oidc_discovery {
    address = "127.0.0.1"
    port = 8088
    domains = ["oidc.example.org", "xn--idc-rna.example.org"]
    jwt_issuer = "http://oidc.example.org/td"
    jwks_uri = "http://cdn.example.org/keys"
    set_key_use = true
    allow_insecure_scheme = true
  }`, 1)))
		if err != nil {
			t.Fatal(err)
		}
		want := &config.OIDCDiscovery{
			Address: "127.0.0.1", Port: 8088, Domains: []string{"oidc.example.org", "xn--idc-rna.example.org"},
			JWTIssuer: "http://oidc.example.org/td", JWKSURI: "http://cdn.example.org/keys", SetKeyUse: true, AllowInsecureScheme: true,
		}
		if !reflect.DeepEqual(s.OIDCDiscovery, want) {
			t.Fatalf("OIDCDiscovery = %+v, want %+v", s.OIDCDiscovery, want)
		}
		if got := s.EffectiveJWTIssuer(); got != "http://oidc.example.org/td" {
			t.Errorf("EffectiveJWTIssuer = %q, want the block's issuer (JWT-SVIDs must carry it)", got)
		}
	})
}

// TestOIDCDiscoveryConfigErrors: each mistake is reported with its file
// and line, naming the key and what to do.
func TestOIDCDiscoveryConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, block string
		want        string
	}{
		{"no TLS and no allow_insecure_scheme", `  oidc_discovery {
    port = 8443
  }`, "server.conf:5: oidc_discovery: set serving_cert_file"},
		{"plain HTTP on all interfaces", `  oidc_discovery {
    allow_insecure_scheme = true
  }`, "server.conf:5: oidc_discovery: address \"0.0.0.0\": plain HTTP"},
		{"plain HTTP on a LAN address", `  oidc_discovery {
    address = "10.1.2.3"
    allow_insecure_scheme = true
  }`, "server.conf:6: oidc_discovery: address \"10.1.2.3\": plain HTTP"},
		{"cert without key", `  oidc_discovery {
    serving_cert_file {
      cert_file_path = "/c.pem"
    }
  }`, "server.conf:6: oidc_discovery: serving_cert_file: missing required key \"key_file_path\""},
		{"SPIRE's addr in serving_cert_file", `  oidc_discovery {
    serving_cert_file {
      cert_file_path = "/c.pem"
      key_file_path = "/k.pem"
      addr = ":8443"
    }
  }`, "server.conf:9: oidc_discovery: serving_cert_file: addr: set address and port"},
		{"acme", `  oidc_discovery {
    acme {
      tos_accepted = true
    }
  }`, "server.conf:6: oidc_discovery: acme: ACME is not supported; use serving_cert_file"},
		{"insecure_addr", `  oidc_discovery {
    insecure_addr = ":8080"
  }`, "server.conf:6: oidc_discovery: insecure_addr: use address and port"},
		{"server_api source", `  oidc_discovery {
    server_api {
      address = "unix:///tmp/spire-server/private/api.sock"
    }
  }`, "server.conf:6: oidc_discovery: server_api: the server serves its own CA's JWT keys"},
		{"unknown key", `  oidc_discovery {
    domain = "x"
  }`, "server.conf:6: unknown key \"domain\" in oidc_discovery block"},
		{"issuers differ", `  oidc_discovery {
    jwt_issuer = "https://other.example.org"
    allow_insecure_scheme = true
    address = "127.0.0.1"
  }`, "server.conf:6: oidc_discovery: jwt_issuer \"https://other.example.org\" differs from the server block's"},
		{"http issuer without allow_insecure_scheme", `  oidc_discovery {
    jwks_uri = "http://oidc.example.org/keys"
    serving_cert_file {
      cert_file_path = "/c.pem"
      key_file_path = "/k.pem"
    }
  }`, "server.conf:6: oidc_discovery: jwks_uri \"http://oidc.example.org/keys\": an http URL needs allow_insecure_scheme"},
		{"domain not in punycode", `  oidc_discovery {
    domains = ["öidc.example.org"]
    allow_insecure_scheme = true
    address = "127.0.0.1"
  }`, "server.conf:6: oidc_discovery: domains: \"öidc.example.org\" must be given in punycode (\"xn--idc-rna.example.org\")"},
		{"bad port", `  oidc_discovery {
    port = 70000
    allow_insecure_scheme = true
    address = "127.0.0.1"
  }`, "server.conf:6: oidc_discovery: port: port 70000 out of range"},
		{"bad file_sync_interval", `  oidc_discovery {
    serving_cert_file {
      cert_file_path = "/c.pem"
      key_file_path = "/k.pem"
      file_sync_interval = "soon"
    }
  }`, "server.conf:9: file_sync_interval: invalid duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseOIDC(tc.block)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant one containing %q", err, tc.want)
			}
		})
	}
	t.Run("no issuer anywhere", func(t *testing.T) {
		_, _, err := config.ParseServer("server.conf", []byte(strings.Replace(strings.Replace(oidcServer,
			`  jwt_issuer = "https://oidc.example.org"`, "", 1), "%s", `  oidc_discovery {
    allow_insecure_scheme = true
    address = "127.0.0.1"
  }`, 1)))
		if err == nil || !strings.Contains(err.Error(), "server.conf:5: oidc_discovery: missing jwt_issuer") {
			t.Fatalf("error = %v, want a missing jwt_issuer on line 5", err)
		}
	})
}
