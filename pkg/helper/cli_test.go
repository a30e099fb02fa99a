package helper_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper"
)

func TestMainExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sock := sockDir(t)
	certDir := t.TempDir()
	good := write("good.conf", `agent_address = "`+sock+`"
cert_dir = "`+certDir+`"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
daemon_mode = false
`)
	daemon := write("daemon.conf", `agent_address = "`+sock+`"
cert_dir = "`+certDir+`"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
`)
	bad := write("bad.conf", "svid_file_name = \"a\"\nbogus_key = 1\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"version spiffe-helper form", []string{"-version"}, 0, "v1.2.3\n", ""},
		{"missing config file", []string{"-config", filepath.Join(dir, "none.conf")}, helper.ExitConfig, "", "read configuration"},
		{"unknown key names key and line", []string{"-config", bad}, helper.ExitConfig, "", "bogus_key"},
		{"unknown flag", []string{"-nope"}, helper.ExitConfig, "", "unknown flag"},
		{"positional argument", []string{"extra"}, helper.ExitConfig, "", "Error:"},
		{"timeout flag, Go-flag form", []string{"-config", good, "-timeout", "200ms"}, helper.ExitTimeout, "", "timed out after 200ms waiting for an X.509-SVID"},
		{"run subcommand, double-dash form", []string{"run", "--config", good, "--timeout=200ms"}, helper.ExitTimeout, "", "timed out after 200ms"},
		{"double-dash equals form", []string{"--config=" + good, "--timeout", "200ms"}, helper.ExitTimeout, "", "timed out after 200ms"},
		{"daemon-mode flag overrides the file", []string{"-config", daemon, "-daemon-mode=false", "-timeout=200ms"}, helper.ExitTimeout, "", "timed out after 200ms"},
		{"help", []string{"-h"}, helper.ExitOK, "", "Usage: svidkit-helper [run] [flags]"},
		{"unknown sub-command", []string{"start"}, helper.ExitConfig, "", `unexpected argument "start"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := helper.Main(tt.args, helper.CLIOptions{Version: "v1.2.3", Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if tt.wantStdout != "" && stdout.String() != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestTimeoutErrorIsOneLine(t *testing.T) {
	err := &helper.TimeoutError{After: 30e9, Waiting: `an X.509-SVID (hint "db")`, Address: "unix:///run/agent.sock", Last: errWithNewline{}}
	want := `timed out after 30s waiting for an X.509-SVID (hint "db") from the Workload API at unix:///run/agent.sock: last error: rpc error: no identity issued`
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}

type errWithNewline struct{}

func (errWithNewline) Error() string { return "rpc error:\nno identity issued" }

// TestMainConfigProblemsOneLineEach checks what an operator sees for a
// file with several problems: one "Error:" line per problem, each naming
// the file, the line and the key, and exit code 1 before anything is
// written.
func TestMainConfigProblemsOneLineEach(t *testing.T) {
	dir := t.TempDir()
	certDir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badValues := write("values.conf", `cert_dir = "`+certDir+`"
svid_file_name = "svid.pem"
svid_key_file_name = "key.pem"
svid_bundle_file_name = "bundle.pem"
renew_signal = "SIGKILL"
exit_timeout = "soon"
`)
	badNames := write("names.conf", `cert_dir = "`+certDir+`"
svid_file_name = "../evil.pem"
svid_key_file_name = "key.pem"
svid_bundle_file_name = "key.pem"
daemon_mode = false
exit_timeout = "5s"
`)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"values", []string{"-config", badValues}, []string{
			badValues + `:5: renew_signal: SIGKILL cannot be caught or ignored, so the workload would not reload; use a signal it handles, such as "SIGHUP" or "SIGUSR1"`,
			badValues + `:6: exit_timeout: invalid duration "soon" (want e.g. "1h" or "90s")`,
		}},
		{"file names", []string{"-config", badNames}, []string{
			badNames + `:2: svid_file_name: invalid file name "../evil.pem": name contains a path separator or NUL; want a plain file name inside cert_dir`,
			badNames + `:4: svid_key_file_name (line 3) and svid_bundle_file_name are both "key.pem"`,
		}},
		{"a flag's value has no line", []string{"-config", badNames, "-timeout", "-1s"}, []string{
			badNames + `:2: svid_file_name: invalid file name "../evil.pem": name contains a path separator or NUL; want a plain file name inside cert_dir`,
			badNames + `:4: svid_key_file_name (line 3) and svid_bundle_file_name are both "key.pem"`,
			badNames + `: exit_timeout: must not be negative, got -1s`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := helper.Main(tt.args, helper.CLIOptions{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
			if code != helper.ExitConfig {
				t.Errorf("exit code %d, want %d", code, helper.ExitConfig)
			}
			want := "Error: " + strings.Join(tt.want, "\nError: ") + "\n"
			if stderr.String() != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
			}
			if entries, err := os.ReadDir(certDir); err != nil || len(entries) != 0 {
				t.Errorf("cert_dir holds %d entries (%v), want none", len(entries), err)
			}
		})
	}
}
