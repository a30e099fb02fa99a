package benchmetric_test

import (
	"crypto/sha256"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/benchmetric"
)

func TestQuantile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var hundred benchmetric.Latencies
	for i := 100; i >= 1; i-- { // unsorted on purpose
		hundred = append(hundred, ms(i))
	}
	tests := []struct {
		name string
		l    benchmetric.Latencies
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one sample", benchmetric.Latencies{ms(7)}, 0.99, ms(7)},
		{"median, nearest rank", hundred, 0.5, ms(50)},
		{"p99", hundred, 0.99, ms(99)},
		{"max", hundred, 1, ms(100)},
		{"min", hundred, 0, ms(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Quantile(tt.q); got != tt.want {
				t.Fatalf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestProcStatusMiB(t *testing.T) {
	rss := benchmetric.ProcStatusMiB(t, os.Getpid(), "VmRSS:")
	if rss <= 0 || rss > 64*1024 {
		t.Fatalf("VmRSS of this test = %v MiB, want a plausible size", rss)
	}
}

// TestProcCPU compares the reading of this process's /proc stat with the
// CPU time getrusage reports for it, after burning some CPU so that both
// are well above the 10 ms resolution.
func TestProcCPU(t *testing.T) {
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	sum := sha256.Sum256(nil)
	for start := rusage(); rusage()-start < 200*time.Millisecond; {
		for range 1000 {
			sum = sha256.Sum256(sum[:])
		}
	}
	before := rusage()
	got := benchmetric.ProcCPU(t, os.Getpid())
	after := rusage()
	// /proc rounds down to whole ticks (and may lag one tick behind).
	if got < before-30*time.Millisecond || got > after {
		t.Fatalf("ProcCPU = %v, getrusage between %v and %v", got, before, after)
	}
}
