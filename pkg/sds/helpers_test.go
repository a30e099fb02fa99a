package sds_test

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/sds"
)

// waitTime bounds every wait for an event that must happen.
const waitTime = 5 * time.Second

// testCA is a trust domain's root CA (internal/testca) minting SVIDs in
// the shape the SDS handler serves.
type testCA struct{ *testca.CA }

func newCA(tb testing.TB, td string) *testCA { return &testCA{testca.NewForTest(tb, td)} }

// svid mints an X.509-SVID for id.
func (ca *testCA) svid(tb testing.TB, id string) sds.SVID {
	tb.Helper()
	s := ca.NewX509SVID(tb, spiffeid.RequireFromString(id))
	return sds.SVID{ID: s.ID, Chain: s.Certificates, Key: s.PrivateKey}
}

func (ca *testCA) bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(ca.TrustDomain(), []*x509.Certificate{ca.Root()})
}

// snapshot builds a snapshot of the workload in ca's trust domain.
func snapshot(ca *testCA, svids []sds.SVID, federated ...*testCA) *sds.Snapshot {
	set := x509bundle.NewSet(ca.bundle())
	for _, f := range federated {
		set.Add(f.bundle())
	}
	return &sds.Snapshot{TrustDomain: ca.TrustDomain(), SVIDs: svids, Bundles: set}
}

// fakeSource serves the same workload to every stream, as the bridge does.
type fakeSource struct {
	mu      sync.Mutex
	current *sds.Snapshot
	watches map[*fakeWatch]bool
	err     error
	closed  chan struct{} // signalled when a watch closes
	// tracked sources hand each snapshot over on an unbuffered channel
	// (setTaken) so a test knows the stream took it; see newTrackedSource.
	tracked bool
}

// newTrackedSource is a fakeSource whose changes are made with setTaken,
// which returns once every stream has taken the snapshot: a test that must
// prove a snapshot caused no response makes the change, then sends a
// request that must be answered (the stream's loop handles one message at
// a time, so a response to the snapshot would come first).
func newTrackedSource(s *sds.Snapshot) *fakeSource {
	f := newFakeSource(s)
	f.tracked = true
	return f
}

// setTaken publishes s to every watch of a tracked source and returns once
// each has taken it.
func (f *fakeSource) setTaken(tb testing.TB, s *sds.Snapshot) {
	tb.Helper()
	f.mu.Lock()
	f.current = s
	var ws []*fakeWatch
	for w := range f.watches {
		ws = append(ws, w)
	}
	f.mu.Unlock()
	deadline := time.After(waitTime)
	for _, w := range ws {
		select {
		case <-w.first: // the first snapshot goes first
		case <-deadline:
			tb.Fatal("a stream did not take its first snapshot")
		}
		select {
		case w.ch <- s:
		case <-w.done:
		case <-deadline:
			tb.Fatal("a stream did not take the snapshot")
		}
	}
}

func newFakeSource(s *sds.Snapshot) *fakeSource {
	return &fakeSource{current: s, watches: make(map[*fakeWatch]bool), closed: make(chan struct{}, 1)}
}

func (f *fakeSource) Watch(ctx context.Context) (sds.Watch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	// An untracked watch allocates nothing beyond its channel, so the
	// benchmarks' bytes per stream stay comparable.
	w := &fakeWatch{src: f, ch: make(chan *sds.Snapshot, 1)}
	switch {
	case f.tracked:
		w.ch = make(chan *sds.Snapshot)
		w.done, w.first = make(chan struct{}), make(chan struct{})
		go func(s *sds.Snapshot) {
			defer close(w.first)
			if s == nil {
				return
			}
			select {
			case w.ch <- s:
			case <-w.done:
			}
		}(f.current)
	default:
		if f.current != nil {
			w.ch <- f.current
		}
	}
	f.watches[w] = true
	return w, nil
}

// set publishes s to every watch, collapsing unread snapshots.
func (f *fakeSource) set(s *sds.Snapshot) {
	if f.tracked {
		panic("fakeSource: a tracked source changes with setTaken")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current = s
	for w := range f.watches {
		select {
		case <-w.ch:
		default:
		}
		w.ch <- s
	}
}

// end closes every open watch, as a Source that gives up would.
func (f *fakeSource) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for w := range f.watches {
		if f.tracked {
			<-w.first // the first hand-over has ended
		}
		close(w.ch)
		delete(f.watches, w)
	}
}

func (f *fakeSource) open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watches)
}

type fakeWatch struct {
	src   *fakeSource
	ch    chan *sds.Snapshot
	done  chan struct{} // tracked only: closed by Close
	first chan struct{} // tracked only: closed once the first snapshot is handed over
}

func (w *fakeWatch) Updates() <-chan *sds.Snapshot { return w.ch }

func (w *fakeWatch) Close() {
	w.src.mu.Lock()
	defer w.src.mu.Unlock()
	if w.src.watches[w] {
		delete(w.src.watches, w)
		if !w.src.tracked {
			close(w.ch)
		} else { // setTaken may still select on ch: leave it open
			close(w.done)
			<-w.first
		}
		select {
		case w.src.closed <- struct{}{}:
		default:
		}
	}
}

// serve runs h on a fresh Unix socket and returns an SDS client for it.
func serve(tb testing.TB, h *sds.Handler) secretv3.SecretDiscoveryServiceClient {
	tb.Helper()
	dir, err := os.MkdirTemp("", "sds")
	if err != nil {
		tb.Fatal(err)
	}
	sock := filepath.Join(dir, "sds.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, lis) }()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
		os.RemoveAll(dir)
	})
	return secretv3.NewSecretDiscoveryServiceClient(conn)
}

// sotwClient is an Envoy-like state-of-the-world client.
type sotwClient struct {
	tb     testing.TB
	stream grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	resps  chan *discoveryv3.DiscoveryResponse
	errc   chan error
	node   *corev3.Node
}

func openSotW(tb testing.TB, c secretv3.SecretDiscoveryServiceClient, node *corev3.Node) *sotwClient {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.StreamSecrets(ctx)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	sc := &sotwClient{tb: tb, stream: stream, resps: make(chan *discoveryv3.DiscoveryResponse, 16), errc: make(chan error, 1), node: node}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			r, err := stream.Recv()
			if err != nil {
				sc.errc <- err
				return
			}
			sc.resps <- r
		}
	}()
	tb.Cleanup(func() { cancel(); <-done })
	return sc
}

func (c *sotwClient) send(req *discoveryv3.DiscoveryRequest) {
	c.tb.Helper()
	if req.Node == nil {
		req.Node = c.node
	}
	req.TypeUrl = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
	if err := c.stream.Send(req); err != nil {
		c.tb.Fatalf("send: %v", err)
	}
}

// subscribe sends the first request for names.
func (c *sotwClient) subscribe(names ...string) {
	c.tb.Helper()
	c.send(&discoveryv3.DiscoveryRequest{ResourceNames: names})
}

// ack acknowledges resp for names.
func (c *sotwClient) ack(resp *discoveryv3.DiscoveryResponse, names ...string) {
	c.tb.Helper()
	c.send(&discoveryv3.DiscoveryRequest{ResourceNames: names, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce})
}

func (c *sotwClient) next() *discoveryv3.DiscoveryResponse {
	c.tb.Helper()
	select {
	case r := <-c.resps:
		return r
	case err := <-c.errc:
		c.tb.Fatalf("stream ended: %v", err)
	case <-time.After(waitTime):
		c.tb.Fatal("no response before deadline")
	}
	return nil
}

// settle proves that the stream sent nothing for what the test did since
// last (the stream's latest response): it asks for names, a subscription
// that must be answered, with last's nonce, and fails unless the next
// response is that answer. The stream handles one message at a time, so a
// response to anything before would arrive first. It returns the answer.
func (c *sotwClient) settle(last *discoveryv3.DiscoveryResponse, names ...string) *discoveryv3.DiscoveryResponse {
	c.tb.Helper()
	c.send(&discoveryv3.DiscoveryRequest{ResourceNames: names, VersionInfo: last.VersionInfo, ResponseNonce: last.Nonce})
	r := c.next()
	if got := secrets(c.tb, r.Resources); len(got) != len(names) {
		c.tb.Fatalf("unexpected response (version %s, %v) before the answer to %v", r.VersionInfo, keys(got), names)
	}
	return r
}

// secrets unpacks the resources of a response by name.
func secrets(tb testing.TB, anys []*anypb.Any) map[string]*tlsv3.Secret {
	tb.Helper()
	out := make(map[string]*tlsv3.Secret)
	for _, a := range anys {
		s := &tlsv3.Secret{}
		if err := a.UnmarshalTo(s); err != nil {
			tb.Fatalf("unmarshal secret: %v", err)
		}
		if _, dup := out[s.Name]; dup {
			tb.Fatalf("secret %q sent twice", s.Name)
		}
		out[s.Name] = s
	}
	return out
}

// captureLog records log records for assertions.
type captureLog struct {
	mu      sync.Mutex
	records []slog.Record
	signal  chan struct{}
}

func newCaptureLog() *captureLog { return &captureLog{signal: make(chan struct{}, 1)} }

func (c *captureLog) Enabled(context.Context, slog.Level) bool { return true }
func (c *captureLog) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	c.records = append(c.records, r.Clone())
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
	return nil
}
func (c *captureLog) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captureLog) WithGroup(string) slog.Handler      { return c }

// wait returns the first record with msg whose attr key has value want.
func (c *captureLog) wait(tb testing.TB, msg, key, want string) {
	tb.Helper()
	deadline := time.After(waitTime)
	for {
		c.mu.Lock()
		for _, r := range c.records {
			found := false
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == key && a.Value.String() == want {
					found = true
				}
				return !found
			})
			if r.Message == msg && found {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		select {
		case <-c.signal:
		case <-deadline:
			tb.Fatalf("no log %q with %s=%q", msg, key, want)
		}
	}
}
