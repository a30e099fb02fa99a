package demo

import (
	"fmt"
	"os"
	"strconv"
	"text/template"
)

// The daemons' configuration files, in the syntax users write (SPIRE's
// HCL for the server and agent, spiffe-helper's for the helper).
var (
	serverHCL = template.Must(template.New("server").Parse(`server {
  bind_address = "127.0.0.1"
  bind_port = "{{.Port}}"
  socket_path = "{{.AdminSocket}}"
  trust_domain = "{{.TrustDomain}}"
  data_dir = "{{.Dir}}/server"
  log_level = "INFO"
  ca_ttl = "24h"
  default_x509_svid_ttl = "{{.TTL}}"
  agent_ttl = "1h"
}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "{{.Dir}}/server/datastore.sqlite3"
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
`))
	agentHCL = template.Must(template.New("agent").Parse(`agent {
  data_dir = "{{.Dir}}/agent"
  log_level = "INFO"
  server_address = "127.0.0.1"
  server_port = "{{.Port}}"
  socket_path = "{{.AgentSocket}}"
  trust_domain = "{{.TrustDomain}}"
  trust_bundle_path = "{{.Dir}}/bundle.pem"
}

plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
`))
	// helperHCL serves both helpers: the init container (Daemon false,
	// no Cmd) and the sidecar (Daemon true, Cmd signalled with SIGHUP).
	helperHCL = template.Must(template.New("helper").Parse(`agent_address = "{{.AgentSocket}}"
cert_dir = "{{.CertDir}}"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
daemon_mode = {{.Daemon}}
{{- if .Cmd}}
cmd = "{{.Cmd}}"
cmd_args = "{{.CmdArgs}}"
renew_signal = "SIGHUP"
{{- end}}
`))
)

// hclData fills the templates.
type hclData struct {
	Dir, AdminSocket, AgentSocket, TrustDomain string
	Port                                       int
	TTL                                        string
	// Helper only.
	CertDir, Cmd, CmdArgs string
	Daemon                bool
}

// writeConfig renders t with d into path.
func writeConfig(path string, t *template.Template, d hclData) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	if err := t.Execute(f, d); err != nil {
		f.Close()
		return fmt.Errorf("demo: render %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}

// seconds renders d as an HCL duration in whole seconds ("20s").
func seconds(secs int) string { return strconv.Itoa(secs) + "s" }
