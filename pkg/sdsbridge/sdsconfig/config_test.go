package sdsconfig_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/hcldecode"
	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
)

func TestDecode(t *testing.T) {
	full := sdsconfig.Default()
	full.AgentAddress = "/run/svidkit/agent/api.sock"
	full.ListenAddresses = []string{"/run/sds/sds.sock", "127.0.0.1:8234"}
	full.ListenSocketMode = 0o600
	full.DefaultSVIDName = "svid"
	full.DefaultBundleName = "root"
	full.DefaultAllBundlesName = "every"
	full.DisableSPIFFECertValidation = true
	full.LogLevel = "DEBUG"
	full.LogFormat = "json"
	full.HealthChecks = sdsconfig.HealthChecks{ListenerEnabled: true, BindAddress: "127.0.0.1", BindPort: 9000, LivePath: "/l", ReadyPath: "/r"}

	single := sdsconfig.Default()
	single.ListenAddresses = []string{"/tmp/s.sock"}
	single.ListenSocketMode = 0o640

	tests := []struct {
		name    string
		file    string
		want    *sdsconfig.Config
		wantErr []string // substrings, each must appear
		// listenLine is the line of listen_address Decode must record.
		listenLine int
	}{
		{name: "empty file gives defaults", file: "", want: ptr(sdsconfig.Default())},
		{name: "every key", want: &full, listenLine: 3, file: `
agent_address = "/run/svidkit/agent/api.sock"
listen_address = ["/run/sds/sds.sock", "127.0.0.1:8234"]
listen_socket_mode = "0600"
default_svid_name = "svid"
default_bundle_name = "root"
default_all_bundles_name = "every"
disable_spiffe_cert_validation = true
log_level = "DEBUG"
log_format = "json"
health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = "9000"
  live_path = "/l"
  ready_path = "/r"
}
`},
		{name: "single listen address and numeric mode", want: &single, listenLine: 2, file: `
listen_address = "/tmp/s.sock"
listen_socket_mode = 0640
`},
		{name: "unknown top-level key", file: "agent_address = \"/a\"\n\nsocket_path = \"/x\"\n",
			wantErr: []string{`cfg.hcl:3: unknown key "socket_path"`}},
		{name: "unknown health key", file: "health_checks {\n  listener_enabled = true\n  port = 1\n}\n",
			wantErr: []string{`cfg.hcl:3: unknown key "port" in health_checks`}},
		{name: "duplicate key", file: "log_level = \"INFO\"\nlog_level = \"DEBUG\"\n",
			wantErr: []string{`cfg.hcl:2: duplicate key "log_level"`}},
		{name: "wrong types reported together", file: "disable_spiffe_cert_validation = \"yes\"\nlog_level = 3\nlisten_socket_mode = \"0999\"\n",
			wantErr: []string{"cfg.hcl:1: disable_spiffe_cert_validation: want true or false", "cfg.hcl:2: log_level: want a string", "cfg.hcl:3: listen_socket_mode"}},
		{name: "syntax error", file: "log_level = \"INFO\"\nhealth_checks {\n", wantErr: []string{"cfg.hcl:"}},
		{name: "json refused", file: `{"agent_address": "/a"}`, wantErr: []string{"JSON configuration is not supported"}},
		{name: "block expected", file: "health_checks = 1\n", wantErr: []string{"cfg.hcl:1: health_checks: want a block"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sdsconfig.Decode("cfg.hcl", []byte(tt.file))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Decode() = %+v, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Decode() error = %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != "cfg.hcl" {
				t.Errorf("Source = %q, want cfg.hcl", got.Source)
			}
			if line := got.Lines.Line(sdsconfig.TopLevel, "listen_address"); line != tt.listenLine {
				t.Errorf("listen_address recorded on line %d, want %d", line, tt.listenLine)
			}
			// Source and Lines are what only a file gives.
			got.Source, got.Lines = "", hcldecode.Lines{}
			if !reflect.DeepEqual(got, *tt.want) {
				t.Fatalf("Decode() = %+v\nwant %+v", got, *tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*sdsconfig.Config)
		wantErr string
	}{
		{name: "valid", mod: func(*sdsconfig.Config) {}},
		{name: "no agent address", mod: func(c *sdsconfig.Config) { c.AgentAddress = "" }, wantErr: "agent_address"},
		{name: "relative agent address", mod: func(c *sdsconfig.Config) { c.AgentAddress = "api.sock" }, wantErr: "agent_address: workload API address \"api.sock\""},
		{name: "no listen address", mod: func(c *sdsconfig.Config) { c.ListenAddresses = nil }, wantErr: "listen_address: not set"},
		{name: "public TCP refused", mod: func(c *sdsconfig.Config) { c.ListenAddresses = []string{"0.0.0.0:8234"} }, wantErr: "loopback only"},
		{name: "any-address TCP refused", mod: func(c *sdsconfig.Config) { c.ListenAddresses = []string{":8234"} }, wantErr: "loopback only"},
		{name: "loopback TCP refused", mod: func(c *sdsconfig.Config) { c.ListenAddresses = []string{"/a.sock", "127.0.0.1:8234"} }, wantErr: `listen_address "127.0.0.1:8234": TCP lets every local user fetch the private keys`},
		{name: "loopback TCP allowed", mod: func(c *sdsconfig.Config) {
			c.ListenAddresses = []string{"localhost:8234"}
			c.AllowInsecureTCP = true
		}},
		{name: "relative path refused", mod: func(c *sdsconfig.Config) { c.ListenAddresses = []string{"sds.sock"} }, wantErr: "absolute Unix socket path"},
		{name: "duplicate listener", mod: func(c *sdsconfig.Config) { c.ListenAddresses = []string{"/a.sock", "unix:///a.sock"} }, wantErr: "listed twice"},
		{name: "same names", mod: func(c *sdsconfig.Config) { c.DefaultAllBundlesName = "ROOTCA" }, wantErr: "default_all_bundles_name"},
		{name: "empty svid name", mod: func(c *sdsconfig.Config) { c.DefaultSVIDName = "" }, wantErr: "default_svid_name: empty"},
		{name: "bad health path", mod: func(c *sdsconfig.Config) {
			c.HealthChecks.ListenerEnabled = true
			c.HealthChecks.LivePath = "live"
		}, wantErr: "health_checks.live_path"},
		{name: "bad health port", mod: func(c *sdsconfig.Config) {
			c.HealthChecks.ListenerEnabled = true
			c.HealthChecks.BindPort = 70000
		}, wantErr: "health_checks.bind_port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sdsconfig.Default()
			c.AgentAddress = "/run/agent.sock"
			tt.mod(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestValidateNamesFileLines checks that Validate, run on a configuration
// Decode read, prefixes each problem with the file and the line of the key
// it is about, as the other svidkit configurations do, and the file alone
// for a problem no key of the file caused.
func TestValidateNamesFileLines(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantErr []string
	}{
		{name: "loopback TCP refused at its line",
			file:    "agent_address = \"/run/agent.sock\"\n\n\nlisten_address = \"[::1]:8234\"\n",
			wantErr: []string{`sds.conf:4: listen_address "[::1]:8234": TCP lets every local user fetch the private keys`}},
		{name: "bad listen address at its line",
			file:    "agent_address = \"/run/agent.sock\"\nlisten_address = [\"/a.sock\", \"sds.sock\"]\n",
			wantErr: []string{`sds.conf:2: listen_address "sds.sock": want an absolute Unix socket path`}},
		{name: "nested key at its line",
			file:    "agent_address = \"/run/agent.sock\"\nhealth_checks {\n  listener_enabled = true\n  live_path = \"live\"\n}\n",
			wantErr: []string{`sds.conf:4: health_checks.live_path: "live" must start with /`}},
		{name: "one per line, in file order, unset keys last",
			file:    "default_all_bundles_name = \"ROOTCA\"\nlisten_socket_mode = \"0640\"\n",
			wantErr: []string{"sds.conf:1: default_all_bundles_name: \"ROOTCA\" is also default_bundle_name\nsds.conf: agent_address: not set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := sdsconfig.Decode("sds.conf", []byte(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		in      string
		want    sdsconfig.Listener
		wantErr bool
	}{
		{in: "/run/sds.sock", want: sdsconfig.Listener{Network: "unix", Address: "/run/sds.sock"}},
		{in: "unix:///run/sds.sock", want: sdsconfig.Listener{Network: "unix", Address: "/run/sds.sock"}},
		{in: "127.0.0.1:8234", want: sdsconfig.Listener{Network: "tcp", Address: "127.0.0.1:8234"}},
		{in: "tcp://[::1]:0", want: sdsconfig.Listener{Network: "tcp", Address: "[::1]:0"}},
		{in: "localhost:1", want: sdsconfig.Listener{Network: "tcp", Address: "localhost:1"}},
		{in: "10.0.0.1:8234", wantErr: true},
		{in: "example.com:8234", wantErr: true},
		{in: "unix://host/x", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := sdsconfig.ParseListen(tt.in)
			if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
				t.Fatalf("ParseListen(%q) = %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestResolveAgentAddress(t *testing.T) {
	env := func(k string) string {
		if k == sdsconfig.EndpointSocketEnv {
			return "unix:///from/env.sock"
		}
		return ""
	}
	c := sdsconfig.Default()
	c.ResolveAgentAddress(env)
	if c.AgentAddress != "unix:///from/env.sock" {
		t.Errorf("AgentAddress = %q, want the environment's", c.AgentAddress)
	}
	c.AgentAddress = "/set.sock"
	c.ResolveAgentAddress(env)
	if c.AgentAddress != "/set.sock" {
		t.Errorf("AgentAddress = %q, a set address must win", c.AgentAddress)
	}
}

func TestParseMode(t *testing.T) {
	if m, err := sdsconfig.ParseMode("0660"); err != nil || m != os.FileMode(0o660) {
		t.Errorf("ParseMode(0660) = %v, %v", m, err)
	}
	if _, err := sdsconfig.ParseMode("1777"); err == nil {
		t.Error("ParseMode(1777) accepted a mode with the sticky bit")
	}
}

func ptr[T any](v T) *T { return &v }
