package config_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/config"
)

func TestParseServerRateLimit(t *testing.T) {
	withBlock := func(block string) string {
		return strings.Replace(minimalServer, `data_dir = "/var/lib/svidkit"`, `data_dir = "/var/lib/svidkit"
  `+block, 1)
	}
	tests := []struct {
		name, conf string
		want       bool
		err        string
	}{
		{name: "default on, as SPIRE", conf: minimalServer, want: true},
		{name: "attestation off", conf: withBlock("ratelimit { attestation = false }"), want: false},
		{name: "signing accepted", conf: withBlock("ratelimit {\n attestation = true\n signing = false\n }"), want: true},
		{name: "unknown key", conf: withBlock("ratelimit { attestations = false }"), err: `server.conf:4: unknown key "attestations" in ratelimit block`},
		{name: "wrong type", conf: withBlock(`ratelimit { attestation = "no" }`), err: "server.conf:4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := config.ParseServer("server.conf", []byte(tt.conf))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseServer error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.RateLimitAttestation != tt.want {
				t.Fatalf("RateLimitAttestation = %v, want %v", s.RateLimitAttestation, tt.want)
			}
		})
	}
}
