package sds_test

import (
	"context"
	"slices"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/sds"
)

// deltaClient is an Envoy-like incremental client.
type deltaClient struct {
	t      *testing.T
	stream grpc.BidiStreamingClient[discoveryv3.DeltaDiscoveryRequest, discoveryv3.DeltaDiscoveryResponse]
	resps  chan *discoveryv3.DeltaDiscoveryResponse
}

func openDelta(t *testing.T, c secretv3.SecretDiscoveryServiceClient) *deltaClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.DeltaSecrets(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	dc := &deltaClient{t: t, stream: stream, resps: make(chan *discoveryv3.DeltaDiscoveryResponse, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(dc.resps)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			dc.resps <- r
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return dc
}

func (c *deltaClient) send(req *discoveryv3.DeltaDiscoveryRequest) {
	c.t.Helper()
	req.TypeUrl = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
	if err := c.stream.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

func (c *deltaClient) next() *discoveryv3.DeltaDiscoveryResponse {
	c.t.Helper()
	select {
	case r, ok := <-c.resps:
		if !ok {
			c.t.Fatal("stream ended")
		}
		c.send(&discoveryv3.DeltaDiscoveryRequest{ResponseNonce: r.Nonce}) // ACK
		return r
	case <-deadline():
		c.t.Fatal("no response before deadline")
	}
	return nil
}

// settle proves that the stream sent nothing for what the test did since
// its last response: it subscribes to name, which must be answered, and
// fails unless the next response is that answer alone. The stream handles
// one message at a time, so a response to anything before would arrive
// first.
func (c *deltaClient) settle(name string) {
	c.t.Helper()
	c.send(&discoveryv3.DeltaDiscoveryRequest{ResourceNamesSubscribe: []string{name}})
	if r := c.next(); !slices.Equal(names(r), []string{name}) || len(r.RemovedResources) != 0 {
		c.t.Fatalf("unexpected response %v removed %v before the answer to %q", names(r), r.RemovedResources, name)
	}
}

func names(r *discoveryv3.DeltaDiscoveryResponse) []string {
	var out []string
	for _, res := range r.Resources {
		out = append(out, res.Name)
	}
	return out
}

func TestDeltaSecrets(t *testing.T) {
	ca := newCA(t, "example.org")
	other := newCA(t, "other.org")
	src := newTrackedSource(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}, other))
	c := openDelta(t, serve(t, sds.New(sds.Config{Source: src})))

	c.send(&discoveryv3.DeltaDiscoveryRequest{ResourceNamesSubscribe: []string{"default"}})
	r := c.next()
	if got := names(r); !slices.Equal(got, []string{"default"}) || r.Resources[0].Version == "" || r.Nonce == "" {
		t.Fatalf("first response %v version %q nonce %q", got, r.Resources[0].GetVersion(), r.Nonce)
	}
	defaultVersion := r.Resources[0].Version

	c.send(&discoveryv3.DeltaDiscoveryRequest{ResourceNamesSubscribe: []string{"ROOTCA", "other.org", "spiffe://later.org"}})
	if got := names(c.next()); !slices.Equal(got, []string{"ROOTCA", "other.org"}) {
		t.Fatalf("subscribe added %v, want only ROOTCA and other.org", got)
	}

	// Rotation: only the SVID changed.
	src.setTaken(t, snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}, other))
	r = c.next()
	if got := names(r); !slices.Equal(got, []string{"default"}) || r.Resources[0].Version == defaultVersion {
		t.Fatalf("rotation sent %v (version %q, old %q)", got, r.Resources[0].GetVersion(), defaultVersion)
	}

	// A federated bundle goes away and a pending one appears.
	later := newCA(t, "later.org")
	src.setTaken(t, snapshot(ca, src.current.SVIDs, later))
	r = c.next()
	if got := names(r); !slices.Equal(got, []string{"spiffe://later.org"}) || !slices.Equal(r.RemovedResources, []string{"other.org"}) {
		t.Fatalf("got %v removed %v, want spiffe://later.org added and other.org removed", got, r.RemovedResources)
	}

	// Unsubscribed resources are no longer pushed.
	c.send(&discoveryv3.DeltaDiscoveryRequest{ResourceNamesUnsubscribe: []string{"default"}})
	c.settle("ALL")
	src.setTaken(t, snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}, later))
	c.settle("example.org") // the bundles did not change

	// A NACK does not make the server resend.
	c.send(&discoveryv3.DeltaDiscoveryRequest{ResourceNamesSubscribe: []string{"default"}})
	r = c.next()
	c.send(&discoveryv3.DeltaDiscoveryRequest{ResponseNonce: r.Nonce, ErrorDetail: &status.Status{Message: "rejected"}})
	c.settle("spiffe://example.org")
}

func TestDeltaSecretsWildcardAndInitialVersions(t *testing.T) {
	ca := newCA(t, "example.org")
	src := newFakeSource(snapshot(ca, []sds.SVID{ca.svid(t, "spiffe://example.org/web")}))
	client := serve(t, sds.New(sds.Config{Source: src}))

	c := openDelta(t, client)
	c.send(&discoveryv3.DeltaDiscoveryRequest{})
	r := c.next()
	if got := names(r); !slices.Equal(got, []string{"spiffe://example.org", "spiffe://example.org/web"}) {
		t.Fatalf("wildcard got %v", got)
	}

	// A reconnecting client that already holds the bundle gets only the SVID.
	versions := map[string]string{}
	for _, res := range r.Resources {
		versions[res.Name] = res.Version
	}
	again := openDelta(t, client)
	again.send(&discoveryv3.DeltaDiscoveryRequest{
		ResourceNamesSubscribe:  []string{"spiffe://example.org", "default"},
		InitialResourceVersions: map[string]string{"spiffe://example.org": versions["spiffe://example.org"]},
	})
	if got := names(again.next()); !slices.Equal(got, []string{"default"}) {
		t.Fatalf("reconnect got %v, want only default", got)
	}
}
