package benchmetric

import (
	"math"
	"slices"
	"testing"
	"time"
)

// Latencies collects per-operation durations.
type Latencies []time.Duration

// Quantile returns the q-quantile (nearest rank) of the samples; 0 when
// there are none.
func (l Latencies) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(math.Ceil(float64(len(s))*q)) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Report publishes the p50 and p99 (and, withMax, the maximum) of l in
// milliseconds, as metrics named prefix+"p50-ms" and so on.
func (l Latencies) Report(b *testing.B, prefix string, withMax bool) {
	b.ReportMetric(ms(l.Quantile(0.50)), prefix+"p50-ms")
	b.ReportMetric(ms(l.Quantile(0.99)), prefix+"p99-ms")
	if withMax {
		b.ReportMetric(ms(l.Quantile(1)), prefix+"max-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
