package sds_test

import (
	"context"
	"sync"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/sds"
)

func TestManyStreamsReceiveRotation(t *testing.T) {
	const streams = 500
	ca := newCA(t, "example.org")
	src := newFakeSource(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}))
	reg := prometheus.NewRegistry()
	client := serve(t, sds.New(sds.Config{Source: src, Registerer: reg}))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan string, streams)
	rotated := make(chan string, streams)
	errs := make(chan error, streams)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream, err := client.StreamSecrets(ctx)
			if err == nil {
				err = stream.Send(&discoveryv3.DiscoveryRequest{ResourceNames: []string{"default", "ROOTCA"}})
			}
			var r *discoveryv3.DiscoveryResponse
			if err == nil {
				r, err = stream.Recv()
			}
			if err == nil {
				first <- r.VersionInfo
				err = stream.Send(&discoveryv3.DiscoveryRequest{ResourceNames: []string{"default", "ROOTCA"}, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce})
			}
			if err == nil {
				r, err = stream.Recv()
			}
			if err != nil {
				errs <- err
				return
			}
			rotated <- r.VersionInfo
		}()
	}
	var v1 string
	for range streams {
		select {
		case v1 = <-first:
		case err := <-errs:
			t.Fatal(err)
		case <-deadline():
			t.Fatal("not every stream got its first response")
		}
	}
	if got := counter(t, reg, "svidkit_sds_active_streams"); got != streams {
		t.Fatalf("active_streams = %v, want %d", got, streams)
	}
	src.set(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}))
	for i := range streams {
		select {
		case v := <-rotated:
			if v == v1 {
				t.Fatalf("stream got the old version %s", v)
			}
		case err := <-errs:
			t.Fatal(err)
		case <-deadline():
			t.Fatalf("only %d of %d streams got the rotation", i, streams)
		}
	}
}
