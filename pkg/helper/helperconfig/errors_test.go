package helperconfig_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// TestParseErrors checks that bad files fail with messages naming the key
// and, where the file says it, the line.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		hcl  string
		want []string // substrings, all required
	}{
		{"unknown top-level key with line", x509Set + "\nfoo = \"bar\"", []string{`helper.conf:6: unknown key "foo" in top level`}},
		{"several unknown keys all reported", "foo = 1\n" + x509Set + "bar = 2", []string{`helper.conf:1: unknown key "foo"`, `helper.conf:6: unknown key "bar"`}},
		{"unknown key in jwt_svids entry", `jwt_svids = [
  {jwt_audience = "a", jwt_svid_file_name = "a.token"},
  {jwt_audience = "b", jwt_svid_file_name = "b.token",
   foo = "x"}
]`, []string{`helper.conf:4: unknown key "foo" in jwt_svids[1]`}},
		{"unknown key in health_checks", x509Set + "health_checks {\n  port = 1\n}", []string{`helper.conf:6: unknown key "port" in health_checks`}},
		{"misspelled key", x509Set + `svid_bundle_filename = "x"`, []string{`unknown key "svid_bundle_filename"`}},
		{"duplicate key", x509Set + `svid_file_name = "again.pem"`, []string{`helper.conf:5: duplicate key "svid_file_name"`}},
		{"syntax error with position", "svid_file_name = \n = \"x\"", []string{"helper.conf:2:", "syntax error"}},
		{"json refused", `{"svid_file_name": "a"}`, []string{"JSON configuration is not supported"}},
		{"string where bool wanted", x509Set + `daemon_mode = "false"`, []string{`helper.conf:5: daemon_mode: want true or false, got "false"`}},
		{"list where string wanted", x509Set + `cmd = ["a"]`, []string{"helper.conf:5: cmd: want a string"}},
		{"bool where string wanted", x509Set + `hint = true`, []string{"hint: want a string, got true"}},
		{"block where string wanted", x509Set + "cert_dir {\n}", []string{"cert_dir: want a string"}},
		{"health_checks not a block", x509Set + `health_checks = true`, []string{"health_checks: want a block"}},
		{"jwt_svids not a list", `jwt_svids = "a"`, []string{"jwt_svids: want a list of objects"}},
		{"jwt_svids list of strings", `jwt_svids = ["a"]`, []string{"jwt_svids[0]: want an object"}},
		{"bad mode text", x509Set + `cert_file_mode = "rw-r--r--"`, []string{`helper.conf:5: cert_file_mode: want an octal file mode such as 0644, got "rw-r--r--"`}},
		{"invalid octal digit", x509Set + `key_file_mode = 0800`, []string{"key_file_mode: want an octal file mode"}},
		{"negative mode", x509Set + `cert_file_mode = -1`, []string{"cert_file_mode: file mode must be positive, got -1"}},
		{"decimal 644 meant octal", x509Set + `cert_file_mode = 644`, []string{"cert_file_mode: 644 is read as the decimal number 644, which is not a file mode; write 0644 for octal"}},
		{"mode with setuid bits", x509Set + `jwt_svid_file_mode = 04755`, []string{"jwt_svid_file_mode: file mode 04755 has bits beyond 0777"}},
		{"decimal mode beyond 0777", x509Set + `cert_file_mode = 1000`, []string{"cert_file_mode: file mode 1000 (01750) has bits beyond 0777"}},
		{"float mode", x509Set + `cert_file_mode = 6.44`, []string{"cert_file_mode: want an octal file mode such as 0644, got 6.44"}},
		{"bad signal", x509Set + `renew_signal = "SIGFOO"`, []string{`helper.conf:5: renew_signal: unknown signal "SIGFOO"`}},
		{"signal number not a name", x509Set + `renew_signal = "1"`, []string{`renew_signal: unknown signal "1"`}},
		{"bad cmd_args quoting", x509Set + `cmd = "x"
cmd_args = "a\"b"`, []string{`helper.conf:6: cmd_args: split cmd_args: parse error`, `bare "`}},
		{"both spellings of a key", x509Set + `agent_address = "/a"
agentAddress = "/b"`, []string{"helper.conf:6: use of agent_address and agentAddress found, use only agent_address"}},
		{"exit_when_ready contradicts daemon_mode", x509Set + `daemon_mode = true
exit_when_ready = true`, []string{"exit_when_ready = true contradicts daemon_mode = true"}},
		{"bad duration", x509Set + `exit_timeout = "soon"`, []string{`helper.conf:5: exit_timeout: invalid duration "soon"`}},
		{"duration as number", x509Set + `exit_timeout = 30`, []string{`exit_timeout: want a duration string such as "1h" or "90s", got 30`}},
		{"negative duration", x509Set + `exit_timeout = "-1s"`, []string{`exit_timeout: invalid duration "-1s"`}},
		{"port out of range", x509Set + "health_checks {\n bind_port = 70000\n}", []string{"helper.conf:6: bind_port: port 70000 out of range"}},
		{"label on block", x509Set + "health_checks \"x\" {\n}", []string{`health_checks: unexpected label "x"`}},

		// Whole-configuration rules (Validate).
		{"nothing to write", `cmd = "x"`, []string{"nothing to write"}},
		{"empty file", ``, []string{"nothing to write"}},
		{"incomplete x509 set", `svid_file_name = "a.pem"`, []string{"all or none of svid_file_name, svid_key_file_name, svid_bundle_file_name must be set"}},
		{"jwt svid without file name", `jwt_svids = [{jwt_audience = "a"}]`, []string{"jwt_svids[0]: jwt_svid_file_name is required"}},
		{"jwt svid without audience", `jwt_svids = [{jwt_svid_file_name = "a.token"}]`, []string{"jwt_svids[0]: jwt_audience is required"}},
		{"pid file without signal", x509Set + `pid_file_name = "/run/app.pid"`, []string{"renew_signal is required when pid_file_name is set"}},
		{"pid file in one-shot mode", x509Set + `daemon_mode = false
pid_file_name = "/run/app.pid"
renew_signal = "SIGHUP"`, []string{"pid_file_name is set but daemon_mode is false"}},
		{"same file for cert and key", `svid_file_name = "a.pem"
svid_key_file_name = "a.pem"
svid_bundle_file_name = "b.pem"`, []string{`helper.conf:2: svid_file_name (line 1) and svid_key_file_name are both "a.pem"`}},
		{"jwt token clobbers bundle", x509Set + `jwt_svids = [{jwt_audience = "a", jwt_svid_file_name = "svid_bundle.pem"}]`, []string{`helper.conf:5: svid_bundle_file_name (line 4) and jwt_svids[0].jwt_svid_file_name are both "svid_bundle.pem"`}},
		{"same health paths", x509Set + "health_checks {\n liveness_path = \"/h\"\n readiness_path = \"/h\"\n}", []string{`liveness_path and readiness_path are both "/h"`}},
		{"health path without slash", x509Set + "health_checks {\n liveness_path = \"live\"\n}", []string{`health_checks.liveness_path: path "live" must start with /`}},
		{"bad write_mode", x509Set + `write_mode = "fast"`, []string{`write_mode: "fast" is not one of "atomic", "plain"`}},
		{"bad key_encoding", x509Set + `key_encoding = "der"`, []string{`key_encoding: "der" is not one of "pkcs8", "pkcs1", "sec1"`}},
		{"bad restart_policy", x509Set + `restart_policy = "sometimes"`, []string{`restart_policy: "sometimes" is not one of`}},
		{"restart policy without cmd", x509Set + `restart_policy = "always"`, []string{`restart_policy "always" needs cmd`}},
		{"pkcs12 without password file", x509Set + `pkcs12_file_name = "k.p12"`, []string{"pkcs12_file_name and pkcs12_password_file must be set together"}},
		{"pkcs12 truststore without password file", x509Set + `pkcs12_truststore_file_name = "t.p12"`, []string{"pkcs12_truststore_file_name needs pkcs12_password_file"}},
		{"combined file without x509 set", `jwt_bundle_file_name = "b.json"
combined_file_name = "c.pem"`, []string{"combined_file_name needs svid_file_name"}},
		{"bad metrics address", x509Set + `metrics_bind_address = "9090"`, []string{`metrics_bind_address: want host:port, got "9090"`}},
		{"bundle_dir with a path", x509Set + `bundle_dir = "a/b"`, []string{`helper.conf:5: bundle_dir: invalid file name "a/b"`, "path separator"}},
		{"bundle_dir reserved name", x509Set + `bundle_dir = "..data"`, []string{`helper.conf:5: bundle_dir: invalid file name "..data"`}},
		{"bundle_dir clobbers a file", x509Set + `bundle_dir = "svid.pem"`, []string{`helper.conf:5: svid_file_name (line 2) and bundle_dir are both "svid.pem"`}},
		{"bundle_dir without x509 set", `jwt_bundle_file_name = "b.json"
bundle_dir = "bundles"`, []string{"helper.conf:2: bundle_dir needs svid_file_name"}},
		{"bundle_dir not a string", x509Set + `bundle_dir = true`, []string{"bundle_dir: want a string"}},
		{"several validation problems together", `svid_file_name = "a.pem"
write_mode = "x"`, []string{"all or none of", `write_mode: "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := helperconfig.Parse("helper.conf", []byte(tt.hcl))
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}
