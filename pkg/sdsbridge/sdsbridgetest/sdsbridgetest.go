// Package sdsbridgetest provides the real, in-process test doubles the SDS
// bridge's tests share: a test CA minting X.509-SVIDs and a Workload API
// served over gRPC on a Unix socket.
package sdsbridgetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CA mints X.509-SVIDs for one trust domain.
type CA struct {
	t      testing.TB
	td     string
	root   *x509.Certificate // the trust bundle's only root
	key    crypto.Signer
	serial atomic.Int64
}

func NewCA(t testing.TB, td string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: td + " root"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: td}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c := &CA{t: t, td: td, root: root, key: key}
	c.serial.Store(100)
	return c
}

// SVID mints an X.509-SVID for path ("/web") with hint, as the Workload
// API sends it.
func (c *CA) SVID(path, hint string) *workload.X509SVID {
	c.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(c.serial.Add(1)),
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{{Scheme: "spiffe", Host: c.td, Path: path}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.root, key.Public(), c.key)
	if err != nil {
		c.t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		c.t.Fatal(err)
	}
	return &workload.X509SVID{SpiffeId: "spiffe://" + c.td + path, X509Svid: der, X509SvidKey: pkcs8, Bundle: c.root.Raw, Hint: hint}
}

// API is a real gRPC Workload API on a Unix socket serving what the
// test sets. With no X.509-SVIDs set it answers PermissionDenied "no
// identity issued", as SPIRE's agent does.
type API struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	sock string
	srv  *grpc.Server
	done chan struct{}

	mu        sync.Mutex
	svids     []*workload.X509SVID
	federated map[string][]byte
	changed   chan struct{} // closed and replaced on every set
}

// StartAPI serves on sock until stop (or the test's end).
func StartAPI(t testing.TB, sock string) *API {
	t.Helper()
	f := NewAPI(sock)
	f.Start(t)
	return f
}

// NewAPI returns a fake that serves on sock once started.
func NewAPI(sock string) *API {
	return &API{sock: sock, changed: make(chan struct{}), done: make(chan struct{})}
}

// Start listens and serves until stop (or the test's end).
func (f *API) Start(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(f.srv, f)
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln)
	}()
	t.Cleanup(f.Stop)
}

// Stop closes the server and removes the socket, as an agent shutting
// down does. It is idempotent.
func (f *API) Stop() {
	f.srv.Stop()
	<-f.done
	_ = os.Remove(f.sock)
}

// Set replaces the served SVIDs and federated bundles and pushes them to
// every watcher.
func (f *API) Set(federated map[string][]byte, svids ...*workload.X509SVID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.svids, f.federated = svids, federated
	close(f.changed)
	f.changed = make(chan struct{})
}

// FetchX509SVID implements the Workload API: it sends the current SVIDs and
// each change until the stream ends.
func (f *API) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	for {
		f.mu.Lock()
		svids, fed, changed := f.svids, f.federated, f.changed
		f.mu.Unlock()
		if len(svids) == 0 {
			return status.Error(codes.PermissionDenied, "no identity issued")
		}
		if err := stream.Send(&workload.X509SVIDResponse{Svids: svids, FederatedBundles: fed}); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-changed:
		}
	}
}

// SocketPath returns a short path for a Unix socket (108-byte limit).
func SocketPath(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdsb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, name)
}

// Root returns the CA's root certificate, the trust domain's bundle.
func (c *CA) Root() *x509.Certificate { return c.root }

// TrustDomain returns the CA's trust domain name.
func (c *CA) TrustDomain() string { return c.td }

// Socket returns the path the API serves on.
func (f *API) Socket() string { return f.sock }
