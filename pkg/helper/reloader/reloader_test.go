package reloader_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/reloader"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     reloader.Config
		wantErr string
	}{
		{"unknown restart policy", reloader.Config{Restart: "sometimes"}, `restart policy "sometimes"`},
		{"cmd not found", reloader.Config{Cmd: "svidkit-no-such-program"}, `cmd "svidkit-no-such-program"`},
		{"args without cmd", reloader.Config{Args: []string{"-x"}}, "args given without cmd"},
		{"negative stop grace", reloader.Config{StopGrace: -time.Second}, "stop grace -1s must not be negative"},
		{"negative backoff", reloader.Config{RestartBackoff: -time.Second}, "restart backoff"},
		{"SIGKILL as renew signal", reloader.Config{Signal: syscall.SIGKILL}, "cannot be used as the renew signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reloader.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewAcceptsEmptyConfig(t *testing.T) {
	rr := start(t, reloader.Config{})
	rr.Notify()
	if err := rr.stop(t); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
}

func TestRunTwice(t *testing.T) {
	r, err := reloader.New(reloader.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatalf("first Run() = %v, want nil on cancel", err)
	}
	if err := r.Run(ctx); err == nil {
		t.Fatal("second Run() = nil, want an error")
	}
}

func TestParseRestartPolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    reloader.RestartPolicy
		wantErr bool
	}{
		{"", reloader.RestartNever, false},
		{"never", reloader.RestartNever, false},
		{"on-failure", reloader.RestartOnFailure, false},
		{"always", reloader.RestartAlways, false},
		{"Always", "", true},
		{"unless-stopped", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := reloader.ParseRestartPolicy(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseRestartPolicy(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// counter returns r's count for the metric name with label value lv.
func counter(r *reloader.Reloader, name, lv string) float64 {
	c := r.Counts()
	m := map[string]map[string]uint64{
		"svidkit_helper_signals_sent_total":  c.SignalsSent,
		"svidkit_helper_signal_errors_total": c.SignalErrors,
		"svidkit_helper_child_starts_total":  c.ChildStarts,
		"svidkit_helper_child_exits_total":   c.ChildExits,
	}[name]
	return float64(m[lv])
}
