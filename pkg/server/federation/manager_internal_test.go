package federation

import (
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestNextRefresh(t *testing.T) {
	m := &Manager{cfg: ManagerConfig{MinRefreshInterval: time.Minute}}
	withHint := func(h time.Duration) *spiffebundle.Bundle {
		b := spiffebundle.New(spiffeid.RequireTrustDomainFromString("b.test"))
		b.SetRefreshHint(h)
		return b
	}
	tests := []struct {
		name string
		b    *spiffebundle.Bundle
		want time.Duration
	}{
		{name: "no bundle: default hint / 4", b: nil, want: DefaultRefreshHint / 4},
		{name: "no hint: default hint / 4", b: spiffebundle.New(spiffeid.RequireTrustDomainFromString("b.test")), want: DefaultRefreshHint / 4},
		{name: "hint / 4", b: withHint(20 * time.Minute), want: 5 * time.Minute},
		{name: "floor", b: withHint(10 * time.Second), want: time.Minute},
		{name: "cap", b: withHint(7 * 24 * time.Hour), want: MaxRefreshInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.next(tt.b); got != tt.want {
				t.Errorf("next = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestETagMatch(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{``, false},
		{`"abc"`, true},
		{`W/"abc"`, true},
		{`"x", "abc"`, true},
		{`*`, true},
		{`"abcd"`, false},
		{`abc`, false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := etagMatch(tt.header, `"abc"`); got != tt.want {
				t.Errorf("etagMatch(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}
