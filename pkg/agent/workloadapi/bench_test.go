package workloadapi_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/agent/workloadattest/unix"
	"github.com/svidkit/svidkit/pkg/selector"
)

// BenchmarkFetchX509SVID measures a go-spiffe client's FetchX509SVID over
// the real socket, including peer credentials and unix attestation with a
// warm digest cache. It reports p50 and p99 latency.
func BenchmarkFetchX509SVID(b *testing.B) {
	ca := newTestCA(b, "example.org")
	sels := selector.NewSet(selector.Selector{Type: "unix", Value: "uid:" + strconv.Itoa(os.Getuid())})
	mgr := newFakeManager(ca, fakeEntry{sels: sels, id: ca.identity("/web", "")})
	e := serve(b, mgr, unix.New(unix.Config{}))
	client := e.client(b)
	ctx := context.Background()
	if _, err := client.FetchX509SVID(ctx); err != nil { // connect, warm caches
		b.Fatal(err)
	}

	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := client.FetchX509SVID(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
