package testenv_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// TestHCLRoundTrip: the rendered files load, with pkg/config, into exactly
// the configuration they were rendered from, so a binary started from them
// runs with the settings an in-process daemon gets.
func TestHCLRoundTrip(t *testing.T) {
	l := testenv.NewLayout(t, spiffeid.RequireTrustDomainFromString("hcl.test"))
	health := config.Health{ListenerEnabled: true, BindAddress: "127.0.0.1", BindPort: 18080, LivePath: "/live", ReadyPath: "/ready"}
	server := func(withHealth bool) *config.Server {
		cfg := l.ServerConfig(18081)
		if withHealth {
			cfg.Health = health
		}
		return cfg
	}
	agent := func(joinToken string) *config.Agent {
		cfg, err := l.AgentConfig("127.0.0.1:18081", "a", joinToken)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Health = health
		return cfg
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"server", func(t *testing.T) { roundTrip(t, server(false), testenv.ServerHCL, config.ParseServer) }},
		{"server with health listener", func(t *testing.T) { roundTrip(t, server(true), testenv.ServerHCL, config.ParseServer) }},
		{"server without attestation rate limit", func(t *testing.T) {
			cfg := server(false)
			cfg.RateLimitAttestation = false
			roundTrip(t, cfg, testenv.ServerHCL, config.ParseServer)
		}},
		{"server with federation", func(t *testing.T) {
			cfg := server(false)
			cfg.Federation = &config.Federation{
				BundleEndpoint: &config.BundleEndpoint{Address: "127.0.0.1", Port: 18443, RefreshHint: 2 * time.Second, Profile: config.ProfileHTTPSSPIFFE},
				FederatesWith: []config.FederatesWith{
					{TrustDomain: spiffeid.RequireTrustDomainFromString("b.test"), BundleEndpointURL: "https://127.0.0.1:28443",
						Profile: config.ProfileHTTPSSPIFFE, EndpointSPIFFEID: spiffeid.RequireFromString("spiffe://b.test/spire/server")},
					{TrustDomain: spiffeid.RequireTrustDomainFromString("c.test"), BundleEndpointURL: "https://localhost:38443/bundle",
						Profile: config.ProfileHTTPSWeb},
				},
			}
			roundTrip(t, cfg, testenv.ServerHCL, config.ParseServer)
		}},
		{"server with an https_web bundle endpoint", func(t *testing.T) {
			cfg := server(false)
			cfg.Federation = &config.Federation{BundleEndpoint: &config.BundleEndpoint{Address: "0.0.0.0", Port: 8443, RefreshHint: 5 * time.Minute,
				Profile: config.ProfileHTTPSWeb, ServingCertFile: &config.ServingCertFile{CertFilePath: "/c.pem", KeyFilePath: "/k.pem", FileSyncInterval: time.Hour}}}
			roundTrip(t, cfg, testenv.ServerHCL, config.ParseServer)
		}},
		{"server with profiling", func(t *testing.T) {
			cfg := server(false)
			cfg.Profiling = config.Profiling{Enabled: true, Port: 6060, Freq: 10, Names: []string{"heap", "cpu"}}
			roundTrip(t, cfg, testenv.ServerHCL, config.ParseServer)
		}},
		{"agent with profiling", func(t *testing.T) {
			cfg := agent("")
			cfg.Profiling = config.Profiling{Enabled: true, Port: 6061}
			roundTrip(t, cfg, testenv.AgentHCL, config.ParseAgent)
		}},
		{"agent restarting", func(t *testing.T) { roundTrip(t, agent(""), testenv.AgentHCL, config.ParseAgent) }},
		{"agent with join token", func(t *testing.T) { roundTrip(t, agent("tok"), testenv.AgentHCL, config.ParseAgent) }},
		{"agent with a JWT-SVID cache size", func(t *testing.T) {
			cfg := agent("")
			cfg.JWTSVIDCacheMaxSize = 10
			roundTrip(t, cfg, testenv.AgentHCL, config.ParseAgent)
		}},
		{"agent with an X.509-SVID cache size", func(t *testing.T) {
			cfg := agent("")
			cfg.X509SVIDCacheMaxSize = 10
			roundTrip(t, cfg, testenv.AgentHCL, config.ParseAgent)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
	t.Run("refused", func(t *testing.T) {
		cfg := l.ServerConfig(0)
		cfg.NodeAttestors = append(cfg.NodeAttestors, config.NodeAttestorK8sPSAT)
		if _, err := testenv.ServerHCL(cfg); err == nil {
			t.Fatal("ServerHCL rendered a k8s_psat server")
		}
	})
}

// roundTrip renders want, parses the text and compares, ignoring the
// parsed configuration's Source (the file name) and Lines.
func roundTrip[C config.Server | config.Agent](t *testing.T, want *C, render func(*C) (string, error), parse func(string, []byte) (*C, []string, error)) {
	t.Helper()
	text, err := render(want)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := parse("test.conf", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	// Source and Lines are the only fields the file gives that the
	// configuration it was rendered from cannot hold.
	reflect.ValueOf(got).Elem().FieldByName("Source").SetString("")
	reflect.ValueOf(got).Elem().FieldByName("Lines").Set(reflect.ValueOf(hcldecode.Lines{}))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded\n%+v\nwant\n%+v\nfrom\n%s", got, want, text)
	}
}
