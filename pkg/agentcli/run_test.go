package agentcli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/agentcli"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/config"
)

const agentConf = `agent {
  data_dir = "/var/lib/svidkit-agent"
  server_address = "spire-server"
  trust_domain = "example.org"
  trust_bundle_path = "/etc/svidkit/bundle.pem"
}
plugins {
  NodeAttestor "join_token" {}
  KeyManager "memory" {}
  WorkloadAttestor "unix" {}
}
`

func writeConf(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.conf")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// run executes the CLI with args as main would and captures its output.
// The api and healthcheck commands are tested against a real agent in
// internal/e2e (TestAgentCLI).
func run(t *testing.T, ctx context.Context, opts agentcli.Options, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := agentcli.New(opts)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	code = cliargs.Execute(ctx, root, args)
	return code, out.String(), errOut.String()
}

func TestRun(t *testing.T) {
	conf := writeConf(t, agentConf)
	noAddr := writeConf(t, strings.Replace(agentConf, `server_address = "spire-server"`, "", 1))
	insecure := writeConf(t, strings.Replace(agentConf, `trust_bundle_path = "/etc/svidkit/bundle.pem"`, "", 1))
	tests := []struct {
		name     string
		args     []string
		check    func(t *testing.T, cfg *config.Agent)
		wantCode int
		wantErr  string
	}{
		{name: "file values", args: []string{"-config", conf}, check: func(t *testing.T, cfg *config.Agent) {
			if cfg.ServerAddress != "spire-server" || cfg.ServerPort != 8081 || cfg.JoinToken != "" {
				t.Errorf("cfg = %+v", cfg)
			}
			if err := cfg.CheckJoinToken(false); err == nil {
				t.Error("CheckJoinToken(false) passed without a token")
			}
		}},
		{name: "flags override the file", args: []string{"-config", conf, "-joinToken", "tok", "-socketPath", "/run/w.sock",
			"-dataDir", "/d", "-serverAddress", "10.0.0.1", "-serverPort", "9443", "-trustDomain", "other.org", "-logLevel", "debug"},
			check: func(t *testing.T, cfg *config.Agent) {
				got := []string{cfg.JoinToken, cfg.SocketPath, cfg.DataDir, cfg.ServerAddress, cfg.TrustDomain.Name(), cfg.LogLevel}
				want := []string{"tok", "/run/w.sock", "/d", "10.0.0.1", "other.org", "debug"}
				if strings.Join(got, " ") != strings.Join(want, " ") || cfg.ServerPort != 9443 {
					t.Errorf("got %q port %d, want %q port 9443", got, cfg.ServerPort, want)
				}
			}},
		{name: "insecure bootstrap flag satisfies trust", args: []string{"-config", insecure, "-insecureBootstrap"},
			check: func(t *testing.T, cfg *config.Agent) {
				if !cfg.InsecureBootstrap {
					t.Error("InsecureBootstrap not set")
				}
			}},
		{name: "missing trust", args: []string{"-config", insecure}, wantCode: 1, wantErr: "missing trust bundle"},
		{name: "missing server address", args: []string{"-config", noAddr}, wantCode: 1,
			wantErr: `missing required key "server_address" in agent block (or -serverAddress)`},
		{name: "unknown flag", args: []string{"-config", conf, "-joinTokn", "x"}, wantCode: 1, wantErr: "unknown flag: --joinTokn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *config.Agent
			opts := agentcli.Options{Run: func(_ context.Context, cfg *config.Agent) error {
				got = cfg
				return nil
			}}
			code, _, errOut := run(t, context.Background(), opts, append([]string{"run"}, tc.args...)...)
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

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		conf     string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"valid", agentConf, 0, "Configuration is valid.\n", ""},
		{"unsupported key", strings.Replace(agentConf, "agent {", "agent {\n  retry_bootstrap = true", 1), 1, "",
			`agent.conf:2: key "retry_bootstrap" in agent block is a SPIRE setting svidkit does not support yet`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, context.Background(), agentcli.Options{}, "validate", "-config", writeConf(t, tc.conf))
			if code != tc.wantCode || out != tc.wantOut || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d stdout %q stderr %q; want %d %q %q", code, out, errOut, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}
