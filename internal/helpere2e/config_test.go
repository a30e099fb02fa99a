package helpere2e_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBinaryRefusesBadFileNames runs the real svidkit-helper on a file
// whose svid_file_name would leave cert_dir and whose renew_signal would
// kill the workload: it must exit 1 at load, printing one "Error:" line per
// problem with the file, line and key, and write nothing (before, the name
// was accepted and only failed at the first write, after the Workload API
// answered).
func TestBinaryRefusesBadFileNames(t *testing.T) {
	bin := buildHelper(t)
	certDir := t.TempDir()
	conf := writeConfig(t, filepath.Join(t.TempDir(), "no-agent.sock"), certDir, `renew_signal = "SIGKILL"
`)
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`svid_file_name = "svid.pem"`), []byte(`svid_file_name = "../evil.pem"`), 1)
	data = bytes.Replace(data, []byte(`daemon_mode = false`), []byte(`daemon_mode = true`), 1)
	if err := os.WriteFile(conf, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-config", conf, "-timeout", "5s")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, cmd, 30*time.Second); code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	// Decode problems (renew_signal) come before whole-file ones, so only
	// the signal is reported on this run; fixing it shows the name.
	want := "Error: " + conf + `:7: renew_signal: SIGKILL cannot be caught or ignored, so the workload would not reload; use a signal it handles, such as "SIGHUP" or "SIGUSR1"` + "\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}

	data = bytes.Replace(data, []byte(`renew_signal = "SIGKILL"`), []byte(`renew_signal = "SIGHUP"`), 1)
	if err := os.WriteFile(conf, data, 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	cmd = exec.Command(bin, "-config", conf, "-timeout", "5s")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, cmd, 30*time.Second); code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	want = "Error: " + conf + `:3: svid_file_name: invalid file name "../evil.pem": name contains a path separator or NUL; want a plain file name inside cert_dir` + "\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
	if entries, err := os.ReadDir(certDir); err != nil || len(entries) != 0 {
		t.Errorf("cert_dir holds %d entries (%v), want none", len(entries), err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(certDir), "evil.pem")); !os.IsNotExist(err) {
		t.Errorf("evil.pem next to cert_dir: %v, want it absent", err)
	}
}
