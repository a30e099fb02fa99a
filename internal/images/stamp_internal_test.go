package images

import (
	"testing"
	"time"
)

// TestPseudoVersion checks the pseudo-versions against the Go command's
// rules (cmd/go's modfetch.PseudoVersion), which the binaries built from a
// clone print and the image labels must equal.
func TestPseudoVersion(t *testing.T) {
	at := time.Date(2026, 12, 2, 23, 34, 37, 0, time.FixedZone("x", 3600))
	tests := []struct{ base, want string }{
		{"", "v0.0.0-20261202223437-76892a93d5ba"},
		{"not-a-version", "v0.0.0-20261202223437-76892a93d5ba"},
		{"v0.1.0", "v0.1.1-0.20261202223437-76892a93d5ba"},
		{"v1.2.9", "v1.2.10-0.20261202223437-76892a93d5ba"},
		{"v0.2.0-rc.1", "v0.2.0-rc.1.0.20261202223437-76892a93d5ba"},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			if got := pseudoVersion(tt.base, at, "76892a93d5ba"); got != tt.want {
				t.Errorf("pseudoVersion(%q) = %q, want %q", tt.base, got, tt.want)
			}
		})
	}
}
