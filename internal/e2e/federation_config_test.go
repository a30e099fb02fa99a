package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/federation"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testenv"
)

// spireFederationConfigs are SPIRE server configurations with federation
// blocks as SPIRE writes them: the federation tutorial's (bundle_endpoint
// with no profile, federates_with over https_spiffe) and spire_server.md's
// https_web serving_cert_file variant (svidkit has no ACME). Only what
// cannot be shared on a test machine is a placeholder: the ports and the
// admin socket (SPIRE's default /tmp/spire-server/private/api.sock).
var spireFederationConfigs = []struct {
	name, conf string
	// warning is what validate prints on stderr, if anything.
	warning string
	web     bool
}{
	{
		name: "tutorial https_spiffe",
		conf: `server {
    bind_address = "127.0.0.1"
    bind_port = "{{BIND_PORT}}"
    socket_path = "{{SOCKET}}"
    trust_domain = "example.org"
    data_dir = "./data/server"
    log_level = "DEBUG"
    ca_ttl = "168h"
    default_x509_svid_ttl = "48h"

    federation {
        bundle_endpoint {
            address = "127.0.0.1"
            port = {{ENDPOINT_PORT}}
        }
        federates_with "broker.example" {
            bundle_endpoint_url = "https://127.0.0.1:1"
            bundle_endpoint_profile "https_spiffe" {
                endpoint_spiffe_id = "spiffe://broker.example/spire/server"
            }
        }
    }
}

plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = "./data/server/datastore.sqlite3"
        }
    }

    KeyManager "disk" {
        plugin_data {
            keys_path = "./data/server/keys.json"
        }
    }

    NodeAttestor "join_token" {
        plugin_data {}
    }
}
`,
		warning: `bundle_endpoint has no profile; using "https_spiffe" as SPIRE does`,
	},
	{
		name: "spire_server.md https_web",
		conf: `server {
    bind_address = "127.0.0.1"
    bind_port = "{{BIND_PORT}}"
    socket_path = "{{SOCKET}}"
    trust_domain = "example.org"
    data_dir = "./.data"
    federation {
        bundle_endpoint {
            address = "127.0.0.1"
            port = {{ENDPOINT_PORT}}
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
            bundle_endpoint_url = "https://127.0.0.1:1"
            bundle_endpoint_profile "https_web" {}
        }
        federates_with "domain2.test" {
            bundle_endpoint_url = "https://127.0.0.1:2"
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
`,
		web: true,
	},
}

// TestSPIREFederationConfigsValidateAndRun builds the real svidkit-server
// and, for each of spireFederationConfigs, runs `validate -config` (exit
// 0, stderr only the expected warning) and then `run -config` from the
// configuration's directory: the bundle endpoint serves example.org's
// bundle, verified as a federated server would (go-spiffe's federation
// client: https_web against the serving certificate's CA, https_spiffe
// against the server's SPIFFE ID), and SIGTERM stops the server cleanly.
func TestSPIREFederationConfigsValidateAndRun(t *testing.T) {
	bin := filepath.Join(buildBinaries(t, "server"), "svidkit-server")
	td := spiffeid.RequireTrustDomainFromString("example.org")
	for _, tc := range spireFederationConfigs {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			endpointPort := testenv.FreePort(t)
			sock, err := os.MkdirTemp("", "fedconf")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(sock) })
			conf := strings.NewReplacer("{{BIND_PORT}}", strconv.Itoa(testenv.FreePort(t)),
				"{{ENDPOINT_PORT}}", strconv.Itoa(endpointPort), "{{SOCKET}}", filepath.Join(sock, "api.sock")).Replace(tc.conf)
			var roots *x509.CertPool
			if tc.web {
				var certFile, keyFile string
				certFile, keyFile, roots = servingCert(t, "localhost")
				copyFile(t, certFile, filepath.Join(dir, "conf/server/bundleendpoint.crt"), 0o644)
				copyFile(t, keyFile, filepath.Join(dir, "conf/server/bundleendpoint.key"), 0o600)
			}
			confPath := filepath.Join(dir, "server.conf")
			if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}

			var stdout, stderr bytes.Buffer
			validate := exec.Command(bin, "validate", "-config", confPath)
			validate.Dir, validate.Stdout, validate.Stderr = dir, &stdout, &stderr
			if err := validate.Run(); err != nil {
				t.Fatalf("validate: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if got := strings.TrimSpace(stderr.String()); (tc.warning == "") != (got == "") || !strings.Contains(got, tc.warning) {
				t.Errorf("validate stderr:\n%s\nwant the warning %q", got, tc.warning)
			}

			cmd := startProcess(t, dir, bin, "server", conf)
			url := "https://localhost:" + strconv.Itoa(endpointPort)
			var b *spiffebundle.Bundle
			pollUntil(t, 30*time.Second, 50*time.Millisecond, "the bundle endpoint to serve", func() bool {
				b, err = fetchEndpointBundle(td, url, roots)
				return err == nil
			})
			if len(b.X509Authorities()) == 0 {
				t.Errorf("the endpoint serves no X.509 authority")
			}
			if err := stopProcess(cmd); err != nil {
				t.Error(err)
			}
		})
	}
}

// fetchEndpointBundle fetches td's bundle from url as a federated server
// would: with roots (https_web) or, when roots is nil, with https_spiffe
// against td's server ID, bootstrapped from the document itself read
// without verification (the test has no other copy of the bundle).
func fetchEndpointBundle(td spiffeid.TrustDomain, url string, roots *x509.CertPool) (*spiffebundle.Bundle, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if roots != nil {
		return federation.FetchBundle(ctx, td, url, federation.WithWebPKIRoots(roots))
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	doc, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	boot, err := spiffebundle.Parse(td, doc)
	if err != nil {
		return nil, err
	}
	return federation.FetchBundle(ctx, td, url, federation.WithSPIFFEAuth(boot, spiffeid.RequireFromPath(td, "/spire/server")))
}

// copyFile copies src to dst (creating its directory) with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}
