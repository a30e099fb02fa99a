package agentd_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/pkg/agentd"
	"github.com/svidkit/svidkit/pkg/config"
)

const waitTimeout = 10 * time.Second

// psatAgentConfig returns a k8s_psat agent configuration for a server at
// serverPort, with the health listener on healthPort, parsed by the
// configuration loader as svidkit-agent would.
func psatAgentConfig(t *testing.T, tokenPath string, serverPort, healthPort int) *config.Agent {
	t.Helper()
	dir, err := os.MkdirTemp("", "agentd") // short: Unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := fmt.Sprintf(`agent {
  data_dir = %[1]q
  server_address = "127.0.0.1"
  server_port = %[2]d
  socket_path = %[3]q
  trust_domain = "example.org"
  insecure_bootstrap = true
}
plugins {
  NodeAttestor "k8s_psat" {
    plugin_data { cluster = "c", token_path = %[4]q }
  }
  KeyManager "memory" {}
  WorkloadAttestor "unix" {}
}
health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = "%[5]d"
}
`, filepath.Join(dir, "data"), serverPort, filepath.Join(dir, "sockets", "api.sock"), tokenPath, healthPort)
	cfg, _, err := config.ParseAgent("agent.conf", []byte(conf))
	if err != nil {
		t.Fatalf("ParseAgent: %v", err)
	}
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestRunK8sPSATMissingToken(t *testing.T) {
	tokenPath := filepath.Join(t.TempDir(), "missing-token")
	cfg := psatAgentConfig(t, tokenPath, freeport.ForTest(t), freeport.ForTest(t))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	err := agentd.Run(ctx, cfg, agentd.Options{Log: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), tokenPath) {
		t.Fatalf("Run = %v, want an error naming the token path %s", err, tokenPath)
	}
}

// TestHealthWhileFirstAttestation runs a k8s_psat agent whose server is not
// up yet: it keeps attempting attestation, so /live answers 200 (the probe
// must not restart it) and /ready 503 (it serves no workloads yet).
func TestHealthWhileFirstAttestation(t *testing.T) {
	tokenPath := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenPath, []byte("header.payload.signature\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	healthPort := freeport.ForTest(t)
	cfg := psatAgentConfig(t, tokenPath, freeport.ForTest(t), healthPort)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agentd.Run(ctx, cfg, agentd.Options{Log: testLogger(t)}) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v after cancel, want nil", err)
			}
		case <-time.After(waitTimeout):
			t.Error("Run did not return after cancel")
		}
	}()

	base := fmt.Sprintf("http://127.0.0.1:%d", healthPort)
	waitStatus(t, done, base+"/live", http.StatusOK)
	if code, body := get(t, base+"/ready"); code != http.StatusServiceUnavailable || body != `{"ready":false}` {
		t.Fatalf("/ready = %d %s, want 503 {\"ready\":false}", code, body)
	}
	if _, err := os.Stat(cfg.SocketPath); err == nil {
		t.Error("Workload API socket exists before attestation")
	}
}

// waitStatus polls url until it answers want, failing if Run ends first.
func waitStatus(t *testing.T, done <-chan error, url string, want int) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	last := "no answer"
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case err := <-done:
			t.Fatalf("Run ended early: %v", err)
		case <-deadline:
			t.Fatalf("GET %s: %s; want status %d", url, last, want)
		case <-tick.C:
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}
