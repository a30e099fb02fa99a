package helperconfig_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

func TestWorkloadAPIAddress(t *testing.T) {
	rel, err := filepath.Abs("agent.sock")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		agent   string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "path from file", agent: "/tmp/spire-agent/public/api.sock", want: "unix:///tmp/spire-agent/public/api.sock"},
		{name: "relative path made absolute", agent: "agent.sock", want: "unix://" + rel},
		{name: "unix URL kept", agent: "unix:///run/agent.sock", want: "unix:///run/agent.sock"},
		{name: "unix opaque URL kept", agent: "unix:/run/agent.sock", want: "unix:/run/agent.sock"},
		{name: "tcp URL kept", agent: "tcp://127.0.0.1:8000", want: "tcp://127.0.0.1:8000"},
		{name: "file wins over env", agent: "/a.sock", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "unix:///b.sock"}, want: "unix:///a.sock"},
		{name: "SPIFFE_ENDPOINT_SOCKET URL", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "unix:///b.sock"}, want: "unix:///b.sock"},
		{name: "SPIFFE_ENDPOINT_SOCKET bare path", env: map[string]string{"SPIFFE_ENDPOINT_SOCKET": "/b.sock"}, want: "unix:///b.sock"},
		{name: "deprecated SPIRE_AGENT_ADDRESS", env: map[string]string{"SPIRE_AGENT_ADDRESS": "/c.sock"}, want: "unix:///c.sock"},
		{name: "both variables", env: map[string]string{"SPIRE_AGENT_ADDRESS": "/c.sock", "SPIFFE_ENDPOINT_SOCKET": "/b.sock"}, wantErr: "both SPIFFE_ENDPOINT_SOCKET and SPIRE_AGENT_ADDRESS are set"},
		{name: "nothing set falls back to spiffe-helper's default", want: "unix:///tmp/spire-agent/public/api.sock"},
		{name: "other scheme", agent: "http://x", wantErr: `workload API address "http://x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := helperconfig.New()
			c.AgentAddress = tt.agent
			got, err := c.WorkloadAPIAddress(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("WorkloadAPIAddress = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("WorkloadAPIAddress = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in       string
		want     syscall.Signal
		wantName string
	}{
		{"SIGHUP", syscall.SIGHUP, "SIGHUP"},
		{"SIGUSR1", syscall.SIGUSR1, "SIGUSR1"},
		{"SIGUSR2", syscall.SIGUSR2, "SIGUSR2"},
		{"SIGINT", syscall.SIGINT, "SIGINT"},
		{"SIGQUIT", syscall.SIGQUIT, "SIGQUIT"},
		{"SIGTERM", syscall.SIGTERM, "SIGTERM"},
		{"SIGWINCH", syscall.SIGWINCH, "SIGWINCH"},
		{"HUP", syscall.SIGHUP, "SIGHUP"},
		{"sigusr1", syscall.SIGUSR1, "SIGUSR1"},
		{" SIGHUP ", syscall.SIGHUP, "SIGHUP"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sig, name, err := helperconfig.ParseSignal(tt.in)
			if err != nil || sig != tt.want || name != tt.wantName {
				t.Fatalf("ParseSignal(%q) = %v, %q, %v; want %v, %q", tt.in, sig, name, err, tt.want, tt.wantName)
			}
		})
	}
	for _, bad := range []string{"", "SIG", "SIGFOO", "1", "SIGHUPX"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if sig, _, err := helperconfig.ParseSignal(bad); err == nil {
				t.Fatalf("ParseSignal(%q) = %v, want an error", bad, sig)
			}
		})
	}
}
