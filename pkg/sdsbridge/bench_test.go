package sdsbridge_test

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/testca"
)

// streamsPerConn spreads benchmark streams over connections, as many
// Envoys would.
const streamsPerConn = 100

// BenchmarkPushLatency measures the time from a Workload API update to the
// last of N SDS streams (default + ROOTCA, ACKing) receiving it, through
// the real bridge, SDS server and gRPC over Unix sockets. It reports p50,
// p99 and max per update, and the heap per open stream (client and server
// side together).
func BenchmarkPushLatency(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) { benchPush(b, n) })
	}
}

func benchPush(b *testing.B, n int) {
	ca := testca.NewForTest(b, "bench.test")
	api := fakeworkloadapi.Start(b, fakeworkloadapi.SocketPath(b, "api.sock"))
	svids := [2]*workload.X509SVID{fakeworkloadapi.X509SVID(b, ca, "/a", ""), fakeworkloadapi.X509SVID(b, ca, "/b", "")}
	api.SetX509SVIDs(svids[0])
	sock := serveSDS(b, api.Socket())

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	got := make(chan struct{}, n)
	for i := range (n + streamsPerConn - 1) / streamsPerConn {
		conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		client := secretv3.NewSecretDiscoveryServiceClient(conn)
		for range min(streamsPerConn, n-i*streamsPerConn) {
			stream, err := client.StreamSecrets(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			req := &discoveryv3.DiscoveryRequest{
				Node:          &corev3.Node{Id: "bench"},
				ResourceNames: []string{"default", "ROOTCA"},
			}
			if err := stream.Send(req); err != nil {
				b.Fatal(err)
			}
			go func() {
				for {
					r, err := stream.Recv()
					if err != nil {
						return
					}
					req.VersionInfo, req.ResponseNonce = r.VersionInfo, r.Nonce
					if err := stream.Send(req); err != nil {
						return
					}
					got <- struct{}{}
				}
			}()
		}
	}
	wait := func() {
		deadline := time.After(30 * time.Second)
		for range n {
			select {
			case <-got:
			case <-deadline:
				b.Fatal("not every stream received the update")
			}
		}
	}
	wait() // initial responses

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		api.SetX509SVIDs(svids[(i+1)%2])
		wait()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "heap-B/stream")
}
