package helperconfig_test

import (
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// TestParseProblemLines checks the exact message of whole-configuration
// problems: one line per problem, each naming the file, the line of the key
// it is about (when the file set it) and the key. File names that would
// leave cert_dir or clash with the writer's own entries are refused here,
// at load, not when the first SVID is written.
func TestParseProblemLines(t *testing.T) {
	const x509 = `svid_file_name = "svid.pem"
svid_key_file_name = "key.pem"
svid_bundle_file_name = "bundle.pem"
`
	tests := []struct {
		name string
		hcl  string
		want string
	}{
		{"parent directory", `svid_file_name = "../evil.pem"
svid_key_file_name = "key.pem"
svid_bundle_file_name = "bundle.pem"`,
			`helper.conf:1: svid_file_name: invalid file name "../evil.pem": name contains a path separator or NUL; want a plain file name inside cert_dir`},
		{"dot dot", `svid_file_name = "svid.pem"
svid_key_file_name = ".."
svid_bundle_file_name = "bundle.pem"`,
			`helper.conf:2: svid_key_file_name: invalid file name "..": names starting with ".." are reserved for the writer; want a plain file name inside cert_dir`},
		{"dot", `svid_file_name = "svid.pem"
svid_key_file_name = "key.pem"
svid_bundle_file_name = "."`,
			`helper.conf:3: svid_bundle_file_name: invalid file name ".": name "." is the directory itself; want a plain file name inside cert_dir`},
		{"absolute jwt svid", `jwt_svids = [
  {jwt_audience = "a", jwt_svid_file_name = "a.token"},
  {jwt_audience = "b",
   jwt_svid_file_name = "/etc/cron.d/x"},
]`,
			`helper.conf:4: jwt_svids[1].jwt_svid_file_name: invalid file name "/etc/cron.d/x": name contains a path separator or NUL; want a plain file name inside cert_dir`},
		{"jwt bundle over the data link", `jwt_bundle_file_name = "..data"`,
			`helper.conf:1: jwt_bundle_file_name: invalid file name "..data": names starting with ".." are reserved for the writer; want a plain file name inside cert_dir`},
		{"NUL", x509 + `combined_file_name = "c\u0000.pem"`,
			`helper.conf:4: combined_file_name: invalid file name "c\x00.pem": name contains a path separator or NUL; want a plain file name inside cert_dir`},
		{"subdirectory keystore", x509 + `pkcs12_file_name = "sub/k.p12"
pkcs12_password_file = "/run/secrets/pass"`,
			`helper.conf:4: pkcs12_file_name: invalid file name "sub/k.p12": name contains a path separator or NUL; want a plain file name inside cert_dir`},
		{"backslash truststore", x509 + `pkcs12_truststore_file_name = "a\\t.p12"
pkcs12_file_name = "k.p12"
pkcs12_password_file = "/run/secrets/pass"`,
			`helper.conf:4: pkcs12_truststore_file_name: invalid file name "a\\t.p12": name contains a path separator or NUL; want a plain file name inside cert_dir`},
		{"two keys one file", `svid_file_name = "a.pem"
svid_key_file_name = "a.pem"
svid_bundle_file_name = "b.pem"`,
			`helper.conf:2: svid_file_name (line 1) and svid_key_file_name are both "a.pem"`},
		{"jwt token over the bundle", x509 + `jwt_svids = [{jwt_audience = "a",
  jwt_svid_file_name = "bundle.pem"}]`,
			`helper.conf:5: svid_bundle_file_name (line 3) and jwt_svids[0].jwt_svid_file_name are both "bundle.pem"`},
		{"jwt svid file name missing", `jwt_svids = [
  {jwt_audience = "a"}]`,
			`helper.conf:2: jwt_svids[0]: jwt_svid_file_name is required`},
		{"incomplete x509 set", `cert_dir = "/c"
svid_key_file_name = "key.pem"`,
			`helper.conf:2: all or none of svid_file_name, svid_key_file_name, svid_bundle_file_name must be set`},
		{"nothing to write has no line", `cmd = "x"`,
			`helper.conf: nothing to write: set svid_file_name, svid_key_file_name and svid_bundle_file_name, or jwt_svids, or jwt_bundle_file_name`},
		{"SIGKILL", x509 + `renew_signal = "SIGKILL"`,
			`helper.conf:4: renew_signal: SIGKILL cannot be caught or ignored, so the workload would not reload; use a signal it handles, such as "SIGHUP" or "SIGUSR1"`},
		{"SIGSTOP short lower-case", x509 + `renew_signal = "stop"`,
			`helper.conf:4: renew_signal: SIGSTOP cannot be caught or ignored, so the workload would not reload; use a signal it handles, such as "SIGHUP" or "SIGUSR1"`},
		{"unknown signal", x509 + `renew_signal = "SIGHUPP"`,
			`helper.conf:4: renew_signal: unknown signal "SIGHUPP" (want a name such as "SIGHUP" or "SIGUSR1")`},
		{"signal number out of range", x509 + `renew_signal = 99`,
			`helper.conf:4: renew_signal: unknown signal "99" (want a name such as "SIGHUP" or "SIGUSR1")`},
		{"several problems, one line each in file order", `svid_file_name = "../a.pem"
svid_key_file_name = "k.pem"
svid_bundle_file_name = "k.pem"
write_mode = "fast"
health_checks {
  liveness_path = "live"
}
restart_policy = "always"
pkcs12_password_file = "/run/p"`,
			`helper.conf:1: svid_file_name: invalid file name "../a.pem": name contains a path separator or NUL; want a plain file name inside cert_dir
helper.conf:3: svid_key_file_name (line 2) and svid_bundle_file_name are both "k.pem"
helper.conf:4: write_mode: "fast" is not one of "atomic", "plain"
helper.conf:6: health_checks.liveness_path: path "live" must start with /
helper.conf:8: restart_policy "always" needs cmd
helper.conf:9: pkcs12_file_name and pkcs12_password_file must be set together`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := helperconfig.Parse("helper.conf", []byte(tt.hcl))
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", c)
			}
			if err.Error() != tt.want {
				t.Fatalf("error:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// TestValidateWithoutFile checks that a configuration built in code (no
// file, no lines) gets the same messages without a position.
func TestValidateWithoutFile(t *testing.T) {
	c := helperconfig.New()
	c.SVIDFileName, c.SVIDKeyFileName, c.SVIDBundleFileName = "../svid.pem", "key.pem", "key.pem"
	want := `svid_file_name: invalid file name "../svid.pem": name contains a path separator or NUL; want a plain file name inside cert_dir
svid_key_file_name and svid_bundle_file_name are both "key.pem"`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant:\n%s", err, want)
	}
}
