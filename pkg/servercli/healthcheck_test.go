package servercli_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/servercli"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestHealthcheckNotServing injects a fault the real server does not
// produce on demand: a health status other than SERVING. A serving server
// and an absent one are checked in internal/e2e TestServerCLI.
func TestHealthcheckNotServing(t *testing.T) {
	tests := []struct {
		name     string
		status   healthpb.HealthCheckResponse_ServingStatus
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"not serving", healthpb.HealthCheckResponse_NOT_SERVING, nil, 1, "", "server is unhealthy: status NOT_SERVING"},
		{"not serving but shallow", healthpb.HealthCheckResponse_NOT_SERVING, []string{"-shallow"}, 0, "Server is healthy.\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, sock := startFake(t, nil)
			fake.health.SetServingStatus("", tc.status)
			code, out, errOut := run(t, servercli.Options{}, append([]string{"healthcheck", "-socketPath", sock}, tc.args...)...)
			if code != tc.wantCode || out != tc.wantOut || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d stdout %q stderr %q; want %d %q %q", code, out, errOut, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}
