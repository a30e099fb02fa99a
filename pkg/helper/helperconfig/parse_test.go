package helperconfig_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/hcldecode"
	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// x509Set is the smallest valid configuration.
const x509Set = `
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
`

// fullSpiffeHelper uses every spiffe-helper key.
const fullSpiffeHelper = `
agent_address = "/tmp/spire-agent/public/api.sock"
cmd = "ghostunnel"
cmd_args = "server --listen localhost:8002 --target localhost:8001 --keystore certs/svid_key.pem --cacert certs/svid_bundle.pem --allow-uri-san spiffe://example.org/Database"
pid_file_name = "/var/run/ghostunnel.pid"
cert_dir = "certs"
daemon_mode = true
add_intermediates_to_bundle = true
renew_signal = "SIGUSR1"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
jwt_svids = [{jwt_audience="your-audience",jwt_extra_audiences=["your-extra-audience-1", "your-extra-audience-2"], jwt_svid_file_name="jwt_svid.token"}]
jwt_bundle_file_name = "bundle.json"
include_federated_domains = true
cert_file_mode = 0444
key_file_mode = 0400
jwt_bundle_file_mode = 0444
jwt_svid_file_mode = 0440
hint = "db"
omit_expired = true
health_checks {
  listener_enabled = true
  bind_port = 9000
  liveness_path = "/healthz"
  readiness_path = "/readyz"
}
`

// svidkitExtras uses every svidkit extra.
const svidkitExtras = x509Set + `
cmd = "haproxy"
exit_timeout = "45s"
write_mode = "plain"
key_encoding = "sec1"
combined_file_name = "haproxy.pem"
pkcs12_file_name = "keystore.p12"
pkcs12_password_file = "/run/secrets/p12pass"
pkcs12_truststore_file_name = "truststore.p12"
restart_policy = "on-failure"
metrics_bind_address = "127.0.0.1:9090"
bundle_dir = "bundles"
`

// spiffeHelperDefaults spells out, as literals, the defaults spiffe-helper
// documents and applies (cmd/spiffe-helper/config/config.go: file modes
// 0644 cert, 0600 key, 0600 JWT bundle, 0600 JWT-SVID; daemon_mode true;
// health_checks off, port 8081, /live, /ready; every other boolean false),
// plus svidkit's own defaults for its extras. The expectations below start
// from it rather than from helperconfig.New, so a changed default fails.
func spiffeHelperDefaults() *helperconfig.Config {
	return &helperconfig.Config{
		DaemonMode:               true,
		AddIntermediatesToBundle: false,
		IncludeFederatedDomains:  false,
		OmitExpired:              false,
		CertFileMode:             0o644,
		KeyFileMode:              0o600,
		JWTBundleFileMode:        0o600,
		JWTSVIDFileMode:          0o600,
		Health: helperconfig.Health{
			ListenerEnabled: false,
			BindPort:        8081,
			LivenessPath:    "/live",
			ReadinessPath:   "/ready",
		},
		// svidkit extras
		ExitTimeout:   0, // one-shot mode waits until the SVID is served
		WriteMode:     "atomic",
		KeyEncoding:   "pkcs8",
		RestartPolicy: "never",
	}
}

// TestNewHoldsDocumentedDefaults pins New to the literal defaults.
func TestNewHoldsDocumentedDefaults(t *testing.T) {
	if got, want := helperconfig.New(), spiffeHelperDefaults(); !reflect.DeepEqual(got, want) {
		t.Fatalf("New() = %+v\nwant    %+v", got, want)
	}
}

func x509Want() *helperconfig.Config {
	c := spiffeHelperDefaults()
	c.Source = "helper.conf"
	c.SVIDFileName, c.SVIDKeyFileName, c.SVIDBundleFileName = "svid.pem", "svid_key.pem", "svid_bundle.pem"
	return c
}

func with(f func(c *helperconfig.Config)) *helperconfig.Config {
	c := x509Want()
	f(c)
	return c
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		hcl      string
		want     *helperconfig.Config
		warnings []string // substrings, in order
	}{
		{name: "minimal x509 set gets every default", hcl: x509Set, want: x509Want()},
		{
			name: "every spiffe-helper key",
			hcl:  fullSpiffeHelper,
			want: func() *helperconfig.Config {
				c := spiffeHelperDefaults()
				c.Source = "helper.conf"
				c.AgentAddress = "/tmp/spire-agent/public/api.sock"
				c.Cmd = "ghostunnel"
				c.CmdArgs = []string{"server", "--listen", "localhost:8002", "--target", "localhost:8001", "--keystore", "certs/svid_key.pem", "--cacert", "certs/svid_bundle.pem", "--allow-uri-san", "spiffe://example.org/Database"}
				c.PIDFileName = "/var/run/ghostunnel.pid"
				c.CertDir = "certs"
				c.AddIntermediatesToBundle = true
				c.RenewSignal, c.RenewSignalName = syscall.SIGUSR1, "SIGUSR1"
				c.SVIDFileName, c.SVIDKeyFileName, c.SVIDBundleFileName = "svid.pem", "svid_key.pem", "svid_bundle.pem"
				c.JWTSVIDs = []helperconfig.JWTSVID{{Audience: "your-audience", ExtraAudiences: []string{"your-extra-audience-1", "your-extra-audience-2"}, FileName: "jwt_svid.token"}}
				c.JWTBundleFileName = "bundle.json"
				c.IncludeFederatedDomains = true
				c.CertFileMode, c.KeyFileMode, c.JWTBundleFileMode, c.JWTSVIDFileMode = 0o444, 0o400, 0o444, 0o440
				c.Hint = "db"
				c.OmitExpired = true
				c.Health = helperconfig.Health{ListenerEnabled: true, BindPort: 9000, LivenessPath: "/healthz", ReadinessPath: "/readyz"}
				return c
			}(),
		},
		{
			name: "every svidkit extra",
			hcl:  svidkitExtras,
			want: with(func(c *helperconfig.Config) {
				c.Cmd = "haproxy"
				c.ExitTimeout = 45 * time.Second
				c.WriteMode = helperconfig.WriteModePlain
				c.KeyEncoding = helperconfig.KeyEncodingSEC1
				c.CombinedFileName = "haproxy.pem"
				c.PKCS12FileName, c.PKCS12PasswordFile = "keystore.p12", "/run/secrets/p12pass"
				c.PKCS12TrustStoreFileName = "truststore.p12"
				c.RestartPolicy = helperconfig.RestartOnFailure
				c.MetricsBindAddress = "127.0.0.1:9090"
				c.BundleDir = "bundles"
			}),
		},
		{name: "jwt bundle only", hcl: `jwt_bundle_file_name = "b.json"`, want: func() *helperconfig.Config {
			c := spiffeHelperDefaults()
			c.Source, c.JWTBundleFileName = "helper.conf", "b.json"
			return c
		}()},
		{name: "jwt svids only, several, extra audiences optional", hcl: `jwt_svids = [
  {jwt_audience = "a", jwt_svid_file_name = "a.token"},
  {jwt_audience = "b", jwt_extra_audiences = ["c"], jwt_svid_file_name = "b.token"},
]`, want: func() *helperconfig.Config {
			c := spiffeHelperDefaults()
			c.Source = "helper.conf"
			c.JWTSVIDs = []helperconfig.JWTSVID{{Audience: "a", FileName: "a.token"}, {Audience: "b", ExtraAudiences: []string{"c"}, FileName: "b.token"}}
			return c
		}()},
		{name: "jwt svids as repeated blocks", hcl: `
jwt_svids {
  jwt_audience = "a"
  jwt_svid_file_name = "a.token"
}
jwt_svids {
  jwt_audience = "b"
  jwt_extra_audiences = "x"
  jwt_svid_file_name = "b.token"
}`, want: func() *helperconfig.Config {
			c := spiffeHelperDefaults()
			c.Source = "helper.conf"
			c.JWTSVIDs = []helperconfig.JWTSVID{{Audience: "a", FileName: "a.token"}, {Audience: "b", ExtraAudiences: []string{"x"}, FileName: "b.token"}}
			return c
		}()},
		{name: "daemon_mode false", hcl: x509Set + `daemon_mode = false`, want: with(func(c *helperconfig.Config) { c.DaemonMode = false })},
		{name: "cmd without renew_signal is allowed", hcl: x509Set + `cmd = "reload.sh"`, want: with(func(c *helperconfig.Config) { c.Cmd = "reload.sh" })},
		{name: "cmd_args with quoted argument", hcl: x509Set + `cmd = "sh"
cmd_args = "-c \"echo hello world\""`, want: with(func(c *helperconfig.Config) { c.Cmd, c.CmdArgs = "sh", []string{"-c", "echo hello world"} })},
		{name: "cmd_args with doubled quote", hcl: x509Set + `cmd = "x"
cmd_args = "\"one \"\" quote\""`, want: with(func(c *helperconfig.Config) { c.Cmd, c.CmdArgs = "x", []string{`one " quote`} })},
		{name: "cmd_args empty string", hcl: x509Set + `cmd = "x"
cmd_args = ""`, want: with(func(c *helperconfig.Config) { c.Cmd, c.CmdArgs = "x", []string{} })},
		{name: "cmd_args heredoc first line only", hcl: x509Set + "cmd = \"x\"\ncmd_args = <<EOF\na b\nc\nEOF\n",
			want: with(func(c *helperconfig.Config) { c.Cmd, c.CmdArgs = "x", []string{"a", "b"} }), warnings: []string{"helper.conf:6: cmd_args: only the first line is used"}},
		{name: "cmd_args without cmd warns", hcl: x509Set + `cmd_args = "a"`,
			want: with(func(c *helperconfig.Config) { c.CmdArgs = []string{"a"} }), warnings: []string{"helper.conf:5: cmd_args is set but cmd is not"}},
		{name: "pid file with signal", hcl: x509Set + `pid_file_name = "/run/pg/postmaster.pid"
renew_signal = "SIGHUP"`, want: with(func(c *helperconfig.Config) {
			c.PIDFileName, c.RenewSignal, c.RenewSignalName = "/run/pg/postmaster.pid", syscall.SIGHUP, "SIGHUP"
		})},
		{name: "signal without SIG prefix, lower case", hcl: x509Set + `renew_signal = "usr2"`, want: with(func(c *helperconfig.Config) { c.RenewSignal, c.RenewSignalName = syscall.SIGUSR2, "SIGUSR2" })},
		{name: "signal SIGTERM", hcl: x509Set + `renew_signal = "SIGTERM"`, want: with(func(c *helperconfig.Config) { c.RenewSignal, c.RenewSignalName = syscall.SIGTERM, "SIGTERM" })},
		{name: "octal modes", hcl: x509Set + `cert_file_mode = 0640
key_file_mode = 0600
jwt_bundle_file_mode = 0644
jwt_svid_file_mode = 0400`, want: with(func(c *helperconfig.Config) {
			c.CertFileMode, c.KeyFileMode, c.JWTBundleFileMode, c.JWTSVIDFileMode = 0o640, 0o600, 0o644, 0o400
		})},
		{name: "string modes", hcl: x509Set + `cert_file_mode = "0640"
key_file_mode = "0o400"`, want: with(func(c *helperconfig.Config) { c.CertFileMode, c.KeyFileMode = 0o640, 0o400 })},
		{name: "decimal mode as in JSON examples", hcl: x509Set + `cert_file_mode = 292`, want: with(func(c *helperconfig.Config) { c.CertFileMode = 0o444 })},
		{name: "hex mode", hcl: x509Set + `cert_file_mode = 0x1a4`, want: with(func(c *helperconfig.Config) { c.CertFileMode = 0o644 })},
		{name: "decimal 444 keeps spiffe-helper's meaning with a warning", hcl: x509Set + `cert_file_mode = 444`,
			want: with(func(c *helperconfig.Config) { c.CertFileMode = 0o674 }), warnings: []string{"helper.conf:5: cert_file_mode: 444 is read as decimal, giving mode 0674; write 0444"}},
		{name: "zero mode keeps default", hcl: x509Set + `key_file_mode = 0`, want: x509Want()},
		{name: "world readable key warns", hcl: x509Set + `key_file_mode = 0644`,
			want: with(func(c *helperconfig.Config) { c.KeyFileMode = 0o644 }), warnings: []string{"key_file_mode 0644 gives every user access to the private key"}},
		{name: "health block defaults", hcl: x509Set + `health_checks {
  listener_enabled = true
}`, want: with(func(c *helperconfig.Config) { c.Health.ListenerEnabled = true })},
		{name: "health block with = and zero port", hcl: x509Set + `health_checks = {
  bind_port = 0
  liveness_path = ""
}`, want: x509Want()},
		{name: "deprecated camelCase keys", hcl: `
agentAddress = "/tmp/agent.sock"
cmd = "x"
cmdArgs = "a b"
certDir = "certs"
renewSignal = "SIGHUP"
svidFileName = "svid.pem"
svidKeyFileName = "svid_key.pem"
svidBundleFileName = "svid_bundle.pem"
addIntermediatesToBundle = true
`, want: with(func(c *helperconfig.Config) {
			c.AgentAddress, c.Cmd, c.CmdArgs, c.CertDir = "/tmp/agent.sock", "x", []string{"a", "b"}, "certs"
			c.RenewSignal, c.RenewSignalName = syscall.SIGHUP, "SIGHUP"
			c.AddIntermediatesToBundle = true
		}), warnings: []string{
			"helper.conf:2: agentAddress is deprecated, use agent_address",
			"helper.conf:4: cmdArgs is deprecated, use cmd_args",
			"helper.conf:5: certDir is deprecated, use cert_dir",
			"helper.conf:6: renewSignal is deprecated, use renew_signal",
			"helper.conf:7: svidFileName is deprecated, use svid_file_name",
			"helper.conf:8: svidKeyFileName is deprecated, use svid_key_file_name",
			"helper.conf:9: svidBundleFileName is deprecated, use svid_bundle_file_name",
			"helper.conf:10: addIntermediatesToBundle is deprecated, use add_intermediates_to_bundle",
		}},
		{name: "exit_when_ready means one-shot", hcl: x509Set + `exit_when_ready = true`,
			want: with(func(c *helperconfig.Config) { c.DaemonMode = false }), warnings: []string{"exit_when_ready is deprecated"}},
		{name: "one-shot with cmd and signal warns", hcl: x509Set + `daemon_mode = false
cmd = "x"
renew_signal = "SIGHUP"`, want: with(func(c *helperconfig.Config) {
			c.DaemonMode, c.Cmd, c.RenewSignal, c.RenewSignalName = false, "x", syscall.SIGHUP, "SIGHUP"
		}), warnings: []string{"helper.conf:6: cmd is set but daemon_mode is false", "helper.conf:7: renew_signal is set but daemon_mode is false"}},
		{name: "number accepted as string like spiffe-helper", hcl: x509Set + `hint = 123`, want: with(func(c *helperconfig.Config) { c.Hint = "123" })},
		{name: "quoted keys and comments", hcl: `# comment
"svid_file_name" = "svid.pem" // trailing
/* block */ svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"`, want: x509Want()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := helperconfig.Parse("helper.conf", []byte(tt.hcl))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got.Lines = hcldecode.Lines{} // checked by TestParseProblemLines
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %d matching %q", warnings, len(tt.warnings), tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, warnings[i], w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "helper.conf")
	if err := os.WriteFile(path, []byte(fullSpiffeHelper), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := helperconfig.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Source != path || c.Cmd != "ghostunnel" || c.RenewSignal != syscall.SIGUSR1 {
		t.Fatalf("Load = %+v", c)
	}
	if _, _, err := helperconfig.Load(filepath.Join(t.TempDir(), "missing.conf")); err == nil || !strings.Contains(err.Error(), "missing.conf") {
		t.Fatalf("Load(missing) error = %v, want one naming the file", err)
	}
}

// TestDecodeThenOverride shows the command-line flow: decode, apply
// -daemon-mode, then validate.
func TestDecodeThenOverride(t *testing.T) {
	hcl := x509Set + `daemon_mode = false
pid_file_name = "/run/app.pid"
renew_signal = "SIGHUP"`
	if _, _, err := helperconfig.Parse("helper.conf", []byte(hcl)); err == nil {
		t.Fatal("Parse accepted pid_file_name in one-shot mode")
	}
	c, _, err := helperconfig.Decode("helper.conf", []byte(hcl))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	c.DaemonMode = true // -daemon-mode=true
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate after override: %v", err)
	}
}
