package servercli_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/servercli"
)

const serverConf = `server {
  trust_domain = "example.org"
  data_dir = "/var/lib/svidkit"
  default_svid_ttl = "30m"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/var/lib/svidkit/ds.db" } }
  KeyManager "memory" {}
  NodeAttestor "join_token" {}
}
`

func writeConf(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "server.conf")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	conf := writeConf(t, serverConf)
	noTD := writeConf(t, strings.Replace(serverConf, `trust_domain = "example.org"`, "", 1))
	tests := []struct {
		name     string
		args     []string
		check    func(t *testing.T, cfg *config.Server)
		wantCode int
		wantErr  string
	}{
		{name: "file values", args: []string{"-config", conf}, check: func(t *testing.T, cfg *config.Server) {
			if cfg.TrustDomain.Name() != "example.org" || cfg.BindPort != 8081 || cfg.DefaultX509SVIDTTL.String() != "30m0s" {
				t.Errorf("cfg = %+v", cfg)
			}
		}, wantErr: "default_svid_ttl is deprecated"},
		{name: "flags override the file", args: []string{"-config", conf, "-trustDomain", "other.org",
			"-bindAddress", "127.0.0.1", "-serverPort", "9090", "-socketPath", "/run/a.sock", "-dataDir", "/d",
			"-logLevel", "DEBUG"},
			check: func(t *testing.T, cfg *config.Server) {
				got := []string{cfg.TrustDomain.Name(), cfg.BindAddress, cfg.SocketPath, cfg.DataDir, cfg.LogLevel}
				want := []string{"other.org", "127.0.0.1", "/run/a.sock", "/d", "DEBUG"}
				if strings.Join(got, " ") != strings.Join(want, " ") || cfg.BindPort != 9090 {
					t.Errorf("got %q port %d, want %q port 9090", got, cfg.BindPort, want)
				}
			}},
		{name: "flag supplies a missing required key", args: []string{"-config", noTD, "-trustDomain", "example.org"},
			check: func(t *testing.T, cfg *config.Server) {
				if cfg.TrustDomain.Name() != "example.org" {
					t.Errorf("trust domain %q", cfg.TrustDomain.Name())
				}
			}},
		{name: "missing required key", args: []string{"-config", noTD}, wantCode: 1,
			wantErr: `missing required key "trust_domain" in server block (or -trustDomain)`},
		{name: "bad trust domain flag", args: []string{"-config", conf, "-trustDomain", "Bad Domain"}, wantCode: 1,
			wantErr: `invalid -trustDomain "Bad Domain"`},
		{name: "bad log level flag", args: []string{"-config", conf, "-logLevel", "LOUD"}, wantCode: 1,
			wantErr: `log_level: unknown log level "LOUD"`},
		{name: "missing file", args: []string{"-config", "/nonexistent/server.conf"}, wantCode: 1,
			wantErr: "read -config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *config.Server
			opts := servercli.Options{Run: func(ctx context.Context, cfg *config.Server) error {
				if ctx.Err() != nil {
					return errors.New("context already cancelled")
				}
				got = cfg
				return nil
			}}
			code, _, errOut := run(t, opts, append([]string{"run"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d stderr %q; want %d and %q", code, errOut, tc.wantCode, tc.wantErr)
			}
			if tc.check != nil {
				if got == nil {
					t.Fatal("Run was not called")
				}
				tc.check(t, got)
			}
		})
	}
}

func TestRunError(t *testing.T) {
	opts := servercli.Options{Run: func(context.Context, *config.Server) error { return errors.New("datastore locked") }}
	code, _, errOut := run(t, opts, "run", "-config", writeConf(t, serverConf))
	if code != 1 || !strings.Contains(errOut, "Error: datastore locked") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		conf     string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"valid", serverConf, 0, "Configuration is valid.\n", "Warning: "},
		{"unknown key", strings.Replace(serverConf, "data_dir", "data_dri", 1), 1, "",
			`server.conf:3: unknown key "data_dri" in server block`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, servercli.Options{}, "validate", "-config", writeConf(t, tc.conf))
			if code != tc.wantCode || out != tc.wantOut || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d stdout %q stderr %q; want %d %q %q", code, out, errOut, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"entry", "create", "-h"}, {"agent", "-help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := run(t, servercli.Options{}, args...)
			if code != 0 || !strings.Contains(out, "Usage:") {
				t.Errorf("exit %d stdout %q stderr %q; want usage", code, out, errOut)
			}
		})
	}
}
