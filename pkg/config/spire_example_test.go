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
