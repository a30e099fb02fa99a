package benchmetric_test

import (
	"os"
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
