package config_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

// TestSPIREStyleSyntax feeds the layout SPIRE's documentation uses: commas
// after block items, `plugin_data = {}` assignments and enabled flags.
func TestSPIREStyleSyntax(t *testing.T) {
	conf := `server {
    bind_address = "127.0.0.1"
    bind_port = "8081"
    trust_domain = "example.org"
    data_dir = "./.data"
    log_level = "DEBUG"
    ca_subject = {
        country = ["US"],
        organization = ["SPIFFE"],
        common_name = "",
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

    KeyManager "memory" {
        plugin_data = {}
    }

    NodeAttestor "x509pop" {
        enabled = false
        plugin_data { ca_bundle_path = "/x" }
    }
}
`
	s, _, err := config.ParseServer("server.conf", []byte(conf))
	if err != nil {
		t.Fatalf("ParseServer: %v", err)
	}
	if strings.Join(s.CASubject.Organization, ",") != "SPIFFE" || s.KeyManager.Name != "memory" {
		t.Errorf("CASubject %+v KeyManager %+v", s.CASubject, s.KeyManager)
	}
	if strings.Join(s.NodeAttestors, ",") != "join_token" {
		t.Errorf("NodeAttestors %q: a disabled plugin must be skipped", s.NodeAttestors)
	}
}

// TestSPIREFederationExample feeds the federation block as SPIRE's
// doc/spire_server.md and conf/server/server_full.conf write it (the
// serving_cert_file variant: svidkit has no ACME).
func TestSPIREFederationExample(t *testing.T) {
	conf := `server {
    bind_address = "127.0.0.1"
    bind_port = "8081"
    trust_domain = "example.org"
    data_dir = "./.data"
    federation {
        bundle_endpoint {
            address = "0.0.0.0"
            port = 8443
            refresh_hint = "10m"
            profile "https_web" {
                serving_cert_file = {
                    cert_file_path= "conf/server/bundleendpoint.crt"
                    key_file_path = "conf/server/bundleendpoint.key"
                    file_sync_interval = "1h"
                }
            }
        }
        federates_with "domain1.test" {
            bundle_endpoint_url = "https://1.2.3.4:8443"
            bundle_endpoint_profile "https_web" {}
        }
        federates_with "domain2.test" {
            bundle_endpoint_url = "https://5.6.7.8:8443"
            bundle_endpoint_profile "https_spiffe" {
                endpoint_spiffe_id = "spiffe://domain2.test/beserver"
            }
        }
    }
}

plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = "./.data/datastore.sqlite3"
        }
    }
    KeyManager "memory" {
        plugin_data = {}
    }
}
`
	s, warnings, err := config.ParseServer("server.conf", []byte(conf))
	if err != nil {
		t.Fatalf("ParseServer: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	f := s.Federation
	if f == nil || f.BundleEndpoint == nil || f.BundleEndpoint.Profile != config.ProfileHTTPSWeb ||
		f.BundleEndpoint.ServingCertFile == nil || f.BundleEndpoint.RefreshHint.String() != "10m0s" {
		t.Fatalf("bundle endpoint not decoded: %+v", f)
	}
	if len(f.FederatesWith) != 2 || f.FederatesWith[1].EndpointSPIFFEID.String() != "spiffe://domain2.test/beserver" {
		t.Errorf("federates_with not decoded: %+v", f.FederatesWith)
	}
}
