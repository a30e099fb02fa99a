package testenv_test

import (
	"reflect"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// TestHCLRoundTrip: the rendered files load, with pkg/config, into exactly
// the configuration they were rendered from, so a binary started from them
// runs with the settings an in-process daemon gets.
func TestHCLRoundTrip(t *testing.T) {
	l := testenv.NewLayout(t, spiffeid.RequireTrustDomainFromString("hcl.test"))
	withHealth := func(h *config.Health) {
		h.ListenerEnabled = true
		h.BindAddress = "127.0.0.1"
		h.BindPort = 18080
	}
	t.Run("server", func(t *testing.T) {
		for _, health := range []bool{false, true} {
			want := l.ServerConfig(18081)
			if health {
				withHealth(&want.Health)
			}
			text, err := testenv.ServerHCL(want)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := config.ParseServer("server.conf", []byte(text))
			if err != nil {
				t.Fatalf("ParseServer: %v\n%s", err, text)
			}
			got.Source = ""
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("loaded\n%+v\nwant\n%+v\nfrom\n%s", got, want, text)
			}
		}
	})
	t.Run("agent", func(t *testing.T) {
		for _, token := range []string{"", "tok"} {
			want, err := l.AgentConfig("127.0.0.1:18081", "a", token)
			if err != nil {
				t.Fatal(err)
			}
			withHealth(&want.Health)
			text, err := testenv.AgentHCL(want)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := config.ParseAgent("agent.conf", []byte(text))
			if err != nil {
				t.Fatalf("ParseAgent: %v\n%s", err, text)
			}
			got.Source = ""
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("loaded\n%+v\nwant\n%+v\nfrom\n%s", got, want, text)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		cfg := l.ServerConfig(0)
		cfg.NodeAttestors = append(cfg.NodeAttestors, config.NodeAttestorK8sPSAT)
		if _, err := testenv.ServerHCL(cfg); err == nil {
			t.Fatal("ServerHCL rendered a k8s_psat server")
		}
	})
}
