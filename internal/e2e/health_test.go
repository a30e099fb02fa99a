package e2e_test

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testenv"
)

func TestServerHealthAndMetrics(t *testing.T) {
	healthPort := testenv.FreePort(t)
	e := startServer(t, testenv.Options{HealthPort: healthPort})
	e.JoinToken(t, "") // one admin RPC, so the RPC counter has a sample

	base := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(healthPort))
	get := func(path string) (int, string) {
		t.Helper()
		client := &http.Client{Timeout: 5 * time.Second}
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := client.Get(base + path)
			if err == nil {
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v", path, err)
			}
			time.Sleep(20 * time.Millisecond) // the listener starts beside the APIs
		}
	}
	tests := []struct {
		path     string
		wantBody string
	}{
		{path: "/live", wantBody: "true"},
		{path: "/ready", wantBody: "true"},
		{path: "/metrics", wantBody: "svidkit_server_rpcs_total"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(tt.path)
			if code != http.StatusOK || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("GET %s = %d %q, want 200 containing %q", tt.path, code, body, tt.wantBody)
			}
		})
	}
}
