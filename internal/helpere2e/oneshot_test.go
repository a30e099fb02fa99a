package helpere2e_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testenv"
)

// writeConfig writes a one-shot helper.conf for the agent at sock.
func writeConfig(t testing.TB, sock, certDir, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "helper.conf")
	conf := fmt.Sprintf(`agent_address = %q
cert_dir = %q
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
daemon_mode = false
%s`, sock, certDir, extra)
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// exitCode waits for cmd and returns its exit code, failing after timeout.
func exitCode(t testing.TB, cmd *exec.Cmd, timeout time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("svidkit-helper did not exit within %s", timeout)
		return -1
	}
}

func TestOneShotBinaryBlocksUntilEntryCreated(t *testing.T) {
	bin := buildHelper(t)
	e := startServer(t)
	ag := e.StartAgent(t, "a", e.JoinToken(t, testenv.NodePath))
	certDir := t.TempDir()
	conf := writeConfig(t, ag.Socket, certDir, "")

	cmd := exec.Command(bin, "-config", conf)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := newLineSink()
	go scanLines(bufio.NewScanner(stderr), logs)
	// The helper reports that it is waiting (no identity issued yet).
	logs.waitContains(t, "waiting for the Workload API", 10*time.Second)
	e.CreateEntry(t, workloadEntry("/app", 0))
	if code := exitCode(t, cmd, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	mustPair(t, certDir)
}

func TestOneShotBinaryTimeout(t *testing.T) {
	bin := buildHelper(t)
	e := startServer(t)
	ag := e.StartAgent(t, "a", e.JoinToken(t, testenv.NodePath))
	e.CreateEntry(t, workloadEntry("/app", 0))
	tests := []struct {
		name     string
		args     func(conf string) []string
		sock     string
		extra    string
		wantCode int
		wantMsg  string
	}{
		{
			name:     "hint never served, -timeout flag",
			args:     func(conf string) []string { return []string{"-config", conf, "-timeout", "1s"} },
			sock:     ag.Socket,
			extra:    `hint = "nope"`,
			wantCode: 2,
			wantMsg:  `Error: timed out after 1s waiting for an X.509-SVID (hint "nope") from the Workload API at unix://` + ag.Socket + `: last error: no SVID with hint "nope" is served`,
		},
		{
			name:     "socket absent, exit_timeout in the file",
			args:     func(conf string) []string { return []string{"run", "--config", conf} },
			sock:     e.Layout.AgentSocket("none"),
			extra:    `exit_timeout = "500ms"`,
			wantCode: 2,
			wantMsg:  "Error: timed out after 500ms waiting for an X.509-SVID from the Workload API at unix://" + e.Layout.AgentSocket("none") + ": last error:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := writeConfig(t, tt.sock, t.TempDir(), tt.extra)
			cmd := exec.Command(bin, tt.args(conf)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if code := exitCode(t, cmd, 15*time.Second); code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, tt.wantMsg) {
				t.Fatalf("last stderr line\n%q\nwant prefix\n%q", last, tt.wantMsg)
			}
		})
	}
}

func TestDaemonBinaryStopsOnSIGTERM(t *testing.T) {
	bin := buildHelper(t)
	e := startServer(t)
	ag := e.StartAgent(t, "a", e.JoinToken(t, testenv.NodePath))
	e.CreateEntry(t, workloadEntry("/app", 0))
	certDir := t.TempDir()
	conf := writeConfig(t, ag.Socket, certDir, "")
	// -daemon-mode overrides daemon_mode = false from the file.
	cmd := exec.Command(bin, "-config", conf, "-daemon-mode=true")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := newLineSink()
	go scanLines(bufio.NewScanner(stderr), logs)
	logs.waitContains(t, "X.509-SVID written", 15*time.Second)
	mustPair(t, certDir)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, cmd, 15*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM %d, want 0", code)
	}
}
