package e2e_test

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/internal/sdsclient"
	"github.com/svidkit/svidkit/internal/testenv"
)

// TestSDSBridgeBinary runs the real svidkit-sds binary on the Unix
// socket of a real agent and an Envoy-like SDS v3 client on the bridge's
// socket. The client gets the workload's SVID ("default") with the trust
// bundle ("ROOTCA"); a rotation (4s X.509-SVIDs) arrives on the same
// stream as a new version with a new serial; and after the agent stops
// and restarts, the same stream delivers an SVID the restarted agent
// minted.
func TestSDSBridgeBinary(t *testing.T) {
	start := time.Now()
	bin := buildBinaries(t, "sds")
	t.Logf("built svidkit-sds in %s", time.Since(start).Round(time.Millisecond))
	s := startServer(t, testenv.Options{SVIDTTL: 4 * time.Second})
	ag := s.StartAgent(t, "a", s.JoinToken(t, testenv.NodePath))
	s.CreateEntry(t, workloadEntry(testenv.NodePath, "/envoy", 4))
	_, sock := startSDSProcess(t, s.Layout.Dir, ag.Socket, filepath.Join(bin, "svidkit-sds"))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stream := openSDS(t, ctx, sock, "default", "ROOTCA")
	envoyID := "spiffe://" + trustDomain + "/envoy"

	first := stream.next(t, "the first SVID", func(*x509.Certificate) bool { return true })
	if got := first.leaf.URIs[0].String(); got != envoyID {
		t.Fatalf("default SVID is %s, want %s", got, envoyID)
	}
	seen := map[string]bool{first.serial(): true}
	rotated := stream.next(t, "a rotated SVID", func(c *x509.Certificate) bool { return !seen[c.SerialNumber.String()] })
	if rotated.version == first.version {
		t.Errorf("rotated SVID served under the version of the first, %q", first.version)
	}
	seen[rotated.serial()] = true
	t.Logf("rotation delivered %s after the first SVID", time.Since(first.at).Round(time.Millisecond))

	stopped := time.Now()
	ag.Stop()
	restarted := s.StartAgent(t, "a", "")
	// The restarted agent's serials, recorded from its own Workload API:
	// a response the old agent's last rotation left in flight cannot pass
	// for one from the restarted agent.
	minted := recordSerials(t, restarted.Client(t))
	after := stream.next(t, "an SVID from the restarted agent", func(c *x509.Certificate) bool {
		return !seen[c.SerialNumber.String()] && minted.has(c.SerialNumber.String())
	})
	if got := after.leaf.URIs[0].String(); got != envoyID {
		t.Fatalf("default SVID after the agent restart is %s, want %s", got, envoyID)
	}
	t.Logf("restarted agent's SVID delivered %s after the agent stopped", after.at.Sub(stopped).Round(time.Millisecond))
}

// sdsStream is an Envoy-like StreamSecrets client (internal/sdsclient):
// it asks for names and ACKs every response.
type sdsStream struct {
	s *sdsclient.Stream
}

// sdsSVID is one response's "default" SVID.
type sdsSVID struct {
	leaf    *x509.Certificate
	version string
	at      time.Time // when it arrived
}

func (s sdsSVID) serial() string { return s.leaf.SerialNumber.String() }

// openSDS opens a StreamSecrets stream on the SDS socket and asks for
// names, the first of which must be a TLS certificate.
func openSDS(t *testing.T, ctx context.Context, sock string, names ...string) *sdsStream {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s, err := sdsclient.Open(ctx, conn, &corev3.Node{Id: "envoy-e2e", Cluster: "e2e"}, names...)
	if err != nil {
		t.Fatal(err)
	}
	return &sdsStream{s: s}
}

// next receives responses, ACKing each, until one holds every name asked
// for and a first-name certificate for which cond holds. The stream's
// context bounds the wait; the stream ending fails the test.
func (s *sdsStream) next(t *testing.T, what string, cond func(*x509.Certificate) bool) sdsSVID {
	t.Helper()
	for {
		resp, err := s.s.Next()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if !s.s.Complete(resp) {
			continue // served in full once the SVID is minted
		}
		leaf, err := sdsclient.Leaf(resp.Secrets[s.s.Names()[0]])
		if err != nil {
			t.Fatal(err)
		}
		if cond(leaf) {
			return sdsSVID{leaf: leaf, version: resp.Version, at: time.Now()}
		}
	}
}

// serialSet records the serials of every X.509-SVID a Workload API
// client is pushed.
type serialSet struct {
	mu      sync.Mutex
	serials map[string]bool
}

func (s *serialSet) has(serial string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serials[serial]
}

// OnX509ContextUpdate implements workloadapi.X509ContextWatcher.
func (s *serialSet) OnX509ContextUpdate(c *workloadapi.X509Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, svid := range c.SVIDs {
		s.serials[svid.Certificates[0].SerialNumber.String()] = true
	}
}

// OnX509ContextWatchError implements workloadapi.X509ContextWatcher.
func (s *serialSet) OnX509ContextWatchError(error) {}

// recordSerials watches c until the test ends.
func recordSerials(t *testing.T, c *workloadapi.Client) *serialSet {
	s := &serialSet{serials: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.WatchX509Context(ctx, s)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}
