package loadgen_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/loadgen"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// TestRunFailsWhenProberDies kills the prober process at the start of the
// first phase (idle, ten minutes long) and checks that Run returns an
// error naming the prober promptly, rather than waiting out the phase or
// reporting phases without their probes.
func TestRunFailsWhenProberDies(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{ServerConfig: func(c *config.Server) {
		c.RateLimitAttestation = false
	}})
	events := &phaseEvents{started: make(chan int, 1)}
	type result struct {
		rep *loadgen.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := loadgen.Run(t.Context(), loadgen.Config{
			TrustDomain:     srv.Layout.TrustDomain,
			Servers:         []loadgen.Target{{Name: "a", Address: srv.TCPAddr, AdminSocket: srv.Layout.AdminSocket}},
			Agents:          2,
			EntriesPerAgent: 1,
			Phase:           10 * time.Minute,
			ProbeRate:       5,
			DataDir:         t.TempDir(),
			Log:             slog.New(events),
		})
		done <- result{rep, err}
	}()
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	select {
	case pid := <-events.started:
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill prober pid %d: %v", pid, err)
		}
	case r := <-done:
		t.Fatalf("Run ended before its first phase: %v", r.err)
	case <-deadline.C:
		t.Fatal("no phase started within 2m")
	}
	select {
	case r := <-done:
		if r.err == nil {
			t.Fatal("Run succeeded with its prober killed")
		}
		if !strings.Contains(r.err.Error(), "prober") {
			t.Errorf("Run error = %q, want it to name the prober", r.err)
		}
		t.Logf("Run: %v", r.err)
	case <-deadline.C:
		t.Fatal("Run did not return within 2m of its prober being killed (the phase lasts 10m)")
	}
}

// phaseEvents is a slog handler that learns the prober's pid from Run's
// "prober started" message and sends it on started when the first phase
// starts.
type phaseEvents struct {
	mu      sync.Mutex
	pid     int
	started chan int
}

func (h *phaseEvents) Enabled(context.Context, slog.Level) bool { return true }
func (h *phaseEvents) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *phaseEvents) WithGroup(string) slog.Handler            { return h }

func (h *phaseEvents) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		switch {
		case r.Message == "prober started" && a.Key == "pid":
			h.pid = int(a.Value.Int64())
		case r.Message == "phase" && a.Key == "name" && h.pid != 0:
			select {
			case h.started <- h.pid:
			default:
			}
		}
		return true
	})
	return nil
}
