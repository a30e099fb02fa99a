package k8s_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/svidkit/svidkit/pkg/config"
)

// TestCommentedFederationExample uncomments the federation example of
// the server ConfigMap and checks that the result loads, so that the
// example stays valid.
func TestCommentedFederationExample(t *testing.T) {
	s := loadManifests(t)
	found := false
	for _, cm := range all[*corev1.ConfigMap](s) {
		conf, ok := cm.v.Data["server.conf"]
		if !ok || !strings.Contains(conf, "--- federation example ---") {
			continue
		}
		found = true
		var out []string
		in := false
		for line := range strings.Lines(conf) {
			switch trimmed := strings.TrimSpace(line); {
			case strings.HasPrefix(trimmed, "# --- federation example ---"):
				in = true
			case strings.HasPrefix(trimmed, "# --- end federation example ---"):
				in = false
			case in:
				line = strings.Replace(line, "# ", "", 1)
			}
			out = append(out, line)
		}
		srv, warnings, err := config.ParseServer(cm.file, []byte(strings.Join(out, "")))
		if err != nil {
			t.Fatalf("uncommented federation example: %v", err)
		}
		for _, w := range warnings {
			t.Errorf("warning: %s", w)
		}
		if srv.Federation == nil || srv.Federation.BundleEndpoint == nil || len(srv.Federation.FederatesWith) != 1 {
			t.Errorf("federation example not decoded: %+v", srv.Federation)
		}
	}
	if !found {
		t.Fatal("no server.conf with the federation example")
	}
}
