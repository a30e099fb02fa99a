package helper_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/pkg/helper"
	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// get returns the status code and body of url, retrying while the listener
// is not up yet.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a listener that is starting; no event to wait on
	}
}

func TestHealthProbes(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(t, ca, sock)
	api.Start(t)
	cfg := x509Config(t, sock)
	cfg.JWTSVIDs = []helperconfig.JWTSVID{{Audience: "db", FileName: "db.jwt"}}
	port := freeport.ForTest(t)
	cfg.Health = helperconfig.Health{ListenerEnabled: true, BindPort: port, LivenessPath: "/live", ReadinessPath: "/ready"}
	h, _ := start(t, cfg, helper.Options{})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	jwtPath := filepath.Join(cfg.CertDir, "db.jwt")

	type body struct {
		Status string `json:"status"`
		Health struct {
			FileWriteStatuses struct {
				X509WriteStatus *string           `json:"x509_write_status"`
				JWTWriteStatus  map[string]string `json:"jwt_write_status"`
			} `json:"file_write_statuses"`
		} `json:"health"`
	}
	check := func(t *testing.T, path string, wantCode int, wantStatus, wantX509, wantJWT string) {
		t.Helper()
		code, raw := get(t, base+path)
		var b body
		if err := json.Unmarshal([]byte(raw), &b); err != nil {
			t.Fatalf("GET %s: body %q is not JSON: %v", path, raw, err)
		}
		if code != wantCode || b.Status != wantStatus || b.Health.FileWriteStatuses.X509WriteStatus == nil ||
			*b.Health.FileWriteStatuses.X509WriteStatus != wantX509 || b.Health.FileWriteStatuses.JWTWriteStatus[jwtPath] != wantJWT {
			t.Fatalf("GET %s = %d %s, want %d status %q x509 %q jwt %q", path, code, raw, wantCode, wantStatus, wantX509, wantJWT)
		}
	}

	t.Run("before the first write", func(t *testing.T) {
		check(t, "/live", 200, "OK", "unwritten", "unwritten")
		check(t, "/ready", 503, "Service Unavailable", "unwritten", "unwritten")
	})
	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	seen := map[string]bool{}
	waitEvent(t, h, 5*time.Second, "the JWT and X.509 writes", func(e helper.Event) bool {
		if isWrite(e) {
			seen[e.Output] = true
		}
		return seen["jwt_svid"] && seen["x509"]
	})
	t.Run("after the first write", func(t *testing.T) {
		check(t, "/live", 200, "OK", "written", "written")
		check(t, "/ready", 200, "OK", "written", "written")
	})
	t.Run("metrics", func(t *testing.T) {
		code, raw := get(t, base+"/metrics")
		// Prometheus text format: HELP and TYPE lines, then samples.
		for _, m := range []string{
			"# TYPE svidkit_helper_last_write_timestamp_seconds gauge\nsvidkit_helper_last_write_timestamp_seconds 1",
			"# TYPE svidkit_helper_x509_svid_expiry_timestamp_seconds gauge\nsvidkit_helper_x509_svid_expiry_timestamp_seconds 1",
			"# TYPE svidkit_helper_write_errors_total counter\nsvidkit_helper_write_errors_total 0\n",
			"# TYPE svidkit_helper_signals_sent_total counter\n",
			"# HELP svidkit_helper_repairs_total ",
		} {
			if code != 200 || !strings.Contains(raw, m) {
				t.Errorf("/metrics (%d) lacks %q:\n%s", code, m, raw)
			}
		}
	})
}

func TestMetricsBindAddress(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(t, ca, sock)
	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	api.Start(t)
	cfg := x509Config(t, sock)
	cfg.MetricsBindAddress = fmt.Sprintf("127.0.0.1:%d", freeport.ForTest(t))
	h, _ := start(t, cfg, helper.Options{})
	waitEvent(t, h, 5*time.Second, "the first write", isWrite)
	code, raw := get(t, "http://"+cfg.MetricsBindAddress+"/metrics")
	if code != 200 || !strings.Contains(raw, "svidkit_helper_x509_svid_expiry_timestamp_seconds") {
		t.Fatalf("/metrics = %d\n%s", code, raw)
	}
	if !strings.Contains(raw, "svidkit_helper_signals_sent_total") && !strings.Contains(raw, "svidkit_helper_last_write_timestamp_seconds") {
		t.Fatalf("/metrics lacks the helper's metrics:\n%s", raw)
	}
}
