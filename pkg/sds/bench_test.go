package sds_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/pkg/sds"
)

// streamsPerConn spreads benchmark streams over connections, as many
// Envoys would.
const streamsPerConn = 100

// benchServer serves h on a Unix socket and returns a dialer of new
// connections to it.
func benchServer(b *testing.B, h *sds.Handler) func() secretv3.SecretDiscoveryServiceClient {
	dir, err := os.MkdirTemp("", "sdsb")
	if err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(dir, "sds.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, lis) }()
	var conns []*grpc.ClientConn
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		cancel()
		<-done
		os.RemoveAll(dir)
	})
	return func() secretv3.SecretDiscoveryServiceClient {
		conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, conn)
		return secretv3.NewSecretDiscoveryServiceClient(conn)
	}
}

// openStreams opens n streams subscribed to default and ROOTCA that ACK
// every response and report its arrival time on arrivals. It returns once
// every stream has its first response.
func openStreams(ctx context.Context, b *testing.B, dial func() secretv3.SecretDiscoveryServiceClient, n int) (arrivals <-chan time.Time) {
	ch := make(chan time.Time, n)
	names := []string{"default", "ROOTCA"}
	var client secretv3.SecretDiscoveryServiceClient
	for i := range n {
		if i%streamsPerConn == 0 {
			client = dial()
		}
		stream, err := client.StreamSecrets(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := stream.Send(&discoveryv3.DiscoveryRequest{ResourceNames: names}); err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				r, err := stream.Recv()
				if err != nil {
					return
				}
				ch <- time.Now()
				if stream.Send(&discoveryv3.DiscoveryRequest{ResourceNames: names, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce}) != nil {
					return
				}
			}
		}()
	}
	for range n {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			b.Fatal("streams did not get their first response")
		}
	}
	return ch
}

// BenchmarkPushLatency measures the time from the Watch delivering a new
// snapshot to the last of N streams receiving it.
func BenchmarkPushLatency(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			ca := newCA(b, "example.org")
			snaps := []*sds.Snapshot{
				snapshot(ca, []sds.SVID{ca.svid(b, "spiffe://example.org/web")}),
				snapshot(ca, []sds.SVID{ca.svid(b, "spiffe://example.org/web")}),
			}
			src := newFakeSource(snaps[0])
			dial := benchServer(b, sds.New(sds.Config{Source: src}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			arrivals := openStreams(ctx, b, dial, n)

			var lat []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				src.set(snaps[(i+1)%2])
				var last time.Time
				for range n {
					select {
					case last = <-arrivals:
					case <-time.After(30 * time.Second):
						b.Fatal("rotation did not reach every stream")
					}
				}
				lat = append(lat, last.Sub(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}

// BenchmarkStreamMemory reports the heap bytes and the heap plus stack
// bytes per open, served stream (server and in-process client together)
// and the heap plus stack of the whole test process with the server idle.
func BenchmarkStreamMemory(b *testing.B) {
	const n = 1000
	ca := newCA(b, "example.org")
	src := newFakeSource(snapshot(ca, []sds.SVID{ca.svid(b, "spiffe://example.org/web")}))
	dial := benchServer(b, sds.New(sds.Config{Source: src}))
	inUse := func() (heap, stack uint64) {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapInuse, m.StackInuse
	}
	var heapPerStream, perStream, idle float64
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		heap0, stack0 := inUse()
		openStreams(ctx, b, dial, n)
		heap1, stack1 := inUse()
		heapPerStream = float64(heap1-heap0) / n
		perStream = float64(heap1+stack1-heap0-stack0) / n
		if idle == 0 { // the first round, before any stream existed
			idle = float64(heap0+stack0) / (1 << 20)
		}
		cancel()
		end := time.After(30 * time.Second)
		for src.open() > 0 {
			select {
			case <-src.closed:
			case <-end:
				b.Fatal("streams did not close")
			}
		}
	}
	b.ReportMetric(heapPerStream, "heap-bytes/stream")
	b.ReportMetric(perStream, "bytes/stream")
	b.ReportMetric(idle, "idle-MiB")
}
