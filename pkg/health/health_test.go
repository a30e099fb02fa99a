package health_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/svidkit/svidkit/pkg/health"
)

// start runs srv until the test ends and returns its base URL.
func start(t *testing.T, srv *health.Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	select {
	case <-srv.Listening():
	case err := <-done:
		t.Fatalf("Run failed before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start listening")
	}
	return "http://" + srv.Addr().String()
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
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func TestProbes(t *testing.T) {
	var live, ready atomic.Bool
	live.Store(true)
	reg := prometheus.NewRegistry()
	counter := prometheus.NewCounter(prometheus.CounterOpts{Name: "svidkit_test_total", Help: "test"})
	reg.MustRegister(counter)
	counter.Add(3)
	srv := health.New(health.Config{
		BindAddress: "127.0.0.1:0",
		LivePath:    "/healthz",
		Live:        live.Load,
		Ready:       ready.Load,
		Gatherer:    reg,
	})
	base := start(t, srv)

	tests := []struct {
		name     string
		setup    func()
		path     string
		wantCode int
		wantBody string
	}{
		{"live", nil, "/healthz", 200, `{"live":true}`},
		{"not ready", nil, "/ready", 503, `{"ready":false}`},
		{"ready", func() { ready.Store(true) }, "/ready", 200, `{"ready":true}`},
		{"not live", func() { live.Store(false) }, "/healthz", 503, `{"live":false}`},
		{"default live path unserved", nil, "/live", 404, "404 page not found"},
		{"metrics", nil, "/metrics", 200, "svidkit_test_total 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			code, body := get(t, base+tc.path)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	base := start(t, health.New(health.Config{BindAddress: "127.0.0.1:0"}))
	for _, path := range []string{"/live", "/ready"} {
		t.Run(path, func(t *testing.T) {
			if code, body := get(t, base+path); code != 200 {
				t.Errorf("GET %s = %d %q, want 200", path, code, body)
			}
		})
	}
	t.Run("no metrics without gatherer", func(t *testing.T) {
		if code, _ := get(t, base+"/metrics"); code != 404 {
			t.Errorf("GET /metrics = %d, want 404", code)
		}
	})
	t.Run("POST refused", func(t *testing.T) {
		resp, err := http.Post(base+"/live", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /live = %d, want 405", resp.StatusCode)
		}
	})
}

func TestListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = health.New(health.Config{BindAddress: ln.Addr().String()}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Run on a busy port = %v, want an error naming the address", err)
	}
}
