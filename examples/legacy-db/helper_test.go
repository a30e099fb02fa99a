package legacydb_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// Names of the files every helper of the example writes into its cert_dir.
const (
	certFile   = "svid.pem"
	keyFile    = "svid_key.pem"
	bundleFile = "svid_bundle.pem"
)

// helperBinEnv names a prebuilt svidkit-helper to test instead of building
// one (for a test binary built with go test -c and run elsewhere).
const helperBinEnv = "LEGACYDB_HELPER_BIN"

// buildHelper builds cmd/helper as Taskfile.yml's build task does, into a
// directory every user can read (the database's helper may run as another
// user).
func buildHelper(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv(helperBinEnv); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatalf("%s: %v", helperBinEnv, err)
		}
		return abs
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("needs the go toolchain to build cmd/helper: %v", err)
	}
	bin := filepath.Join(dir, "svidkit-helper")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "grpcnotrace", "-ldflags", "-s -w", "-o", bin, "github.com/svidkit/svidkit/cmd/helper")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/helper: %v\n%s", err, out)
	}
	return bin
}

// helperConf is a helper.conf, as a deployment would write it.
type helperConf struct {
	agentAddress string
	certDir      string
	hint         string
	daemon       bool
	pidFile      string // pid_file_name; renew_signal is SIGHUP when set
}

func (c helperConf) String() string {
	s := fmt.Sprintf(`agent_address = %q
cert_dir = %q
svid_file_name = %q
svid_key_file_name = %q
svid_bundle_file_name = %q
key_file_mode = 0600
cert_file_mode = 0644
hint = %q
daemon_mode = %t
`, c.agentAddress, c.certDir, certFile, keyFile, bundleFile, c.hint, c.daemon)
	if c.pidFile != "" {
		s += fmt.Sprintf("pid_file_name = %q\nrenew_signal = \"SIGHUP\"\n", c.pidFile)
	}
	return s
}

// runOneShot runs the helper with -daemon-mode=false, as an init container
// does: it waits for the SVID, writes the files and exits 0.
func runOneShot(t *testing.T, u osUser, bin, conf string, log *lineLog) {
	t.Helper()
	cmd := u.Command(bin, "-config", conf, "-daemon-mode=false", "-timeout", "30s")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		t.Fatalf("one-shot svidkit-helper -config %s: %v", conf, err)
	}
}

// startDaemon runs the helper in daemon mode until the test ends, when it
// is stopped with SIGTERM (exit code 0 expected).
func startDaemon(t *testing.T, u osUser, bin, conf string, log *lineLog) {
	t.Helper()
	cmd := u.Command(bin, "-config", conf, "-daemon-mode=true")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start svidkit-helper -config %s: %v", conf, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("svidkit-helper -config %s: %v", conf, err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("svidkit-helper -config %s did not stop within 10s of SIGTERM", conf)
		}
	})
}

// writtenSerial matches the daemon helper's log line for a new set on disk.
var writtenSerial = regexp.MustCompile(`msg="X.509-SVID written".* serial=([0-9a-f]+) .*changed=true`)

// readCert parses the leaf certificate in dir's certFile.
func readCert(dir string) (*x509.Certificate, error) {
	data, err := os.ReadFile(filepath.Join(dir, certFile))
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE block in " + filepath.Join(dir, certFile))
	}
	return x509.ParseCertificate(b.Bytes)
}

// checkKeyFile verifies what PostgreSQL demands of ssl_key_file: a regular
// file (behind the helper's symlink) owned by the database user, mode 0600.
func checkKeyFile(t *testing.T, dir string, u osUser) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o600 || int(st.Uid) != u.UID {
		t.Fatalf("%s: mode %v owner %d, want 0600 owned by %s (%d)", keyFile, fi.Mode().Perm(), st.Uid, u.Name, u.UID)
	}
}
