package config_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

// TestAgentServerTarget: server_address with server_port gives the address
// the agent dials, in SPIRE's forms (host name, IP address) and svidkit's
// DNS target form, and a server_address that cannot be joined with
// server_port is refused naming the key and its line.
func TestAgentServerTarget(t *testing.T) {
	tests := []struct {
		name, address string
		want          string // ServerTarget, or the error's text
		wantErr       bool
	}{
		{name: "host name", address: "spire-server.spire", want: "spire-server.spire:8081"},
		{name: "headless service", address: "spire-server.spire.svc.cluster.local", want: "spire-server.spire.svc.cluster.local:8081"},
		{name: "ipv4", address: "10.0.0.1", want: "10.0.0.1:8081"},
		{name: "ipv6", address: "fd00::1", want: "[fd00::1]:8081"},
		{name: "bracketed ipv6", address: "[fd00::1]", want: "[fd00::1]:8081"},
		{name: "dns target with server", address: "dns://10.0.0.10:53/spire-server.spire", want: "dns://10.0.0.10:53/spire-server.spire:8081"},
		{name: "dns target system resolver", address: "dns:///spire-server.spire", want: "dns:///spire-server.spire:8081"},
		{name: "host with port", address: "spire-server:8081", wantErr: true,
			want: `agent.conf:3: server_address: "spire-server:8081" has a port: give the host only and the port in server_port`},
		{name: "dns target with port", address: "dns:///spire-server:8081", wantErr: true, want: `agent.conf:3: server_address: "dns:///spire-server:8081" has a port`},
		{name: "dns target without host", address: "dns://10.0.0.10/", wantErr: true, want: `agent.conf:3: server_address: "dns://10.0.0.10/": want dns://[dns-server]/host`},
		{name: "other scheme", address: "unix:///tmp/s", wantErr: true, want: `agent.conf:3: server_address: "unix:///tmp/s": scheme "unix"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := `agent {
  data_dir = "/d"
  server_address = "` + tt.address + `"
  trust_domain = "example.org"
  insecure_bootstrap = true
}
plugins {
  NodeAttestor "join_token" {}
  KeyManager "memory" {}
}`
			a, _, err := config.ParseAgent("agent.conf", []byte(conf))
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("ParseAgent = %v, want error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAgent: %v", err)
			}
			if got := a.ServerTarget(); got != tt.want {
				t.Errorf("ServerTarget = %q, want %q", got, tt.want)
			}
		})
	}
}
