package helper_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const td = "helper.test"

// testCA mints X.509-SVIDs and JWT-SVIDs for td.
type testCA struct {
	t      testing.TB
	root   *x509.Certificate
	key    crypto.Signer
	jwtKey *ecdsa.PrivateKey
	serial atomic.Int64
}

func newCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwtKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test root"},
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
	c := &testCA{t: t, root: root, key: key, jwtKey: jwtKey}
	c.serial.Store(100)
	return c
}

// svid mints an X.509-SVID for path with the given lifetime.
func (c *testCA) svid(path, hint string, ttl time.Duration) *workload.X509SVID {
	c.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(c.serial.Add(1)),
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{{Scheme: "spiffe", Host: td, Path: path}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.root, key.Public(), c.key)
	if err != nil {
		c.t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		c.t.Fatal(err)
	}
	return &workload.X509SVID{SpiffeId: "spiffe://" + td + path, X509Svid: der, X509SvidKey: pkcs8, Bundle: c.root.Raw, Hint: hint}
}

// jwt signs a JWT-SVID for path and audience.
func (c *testCA) jwt(path string, aud []string, ttl time.Duration) string {
	c.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: c.jwtKey, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		c.t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Subject:  "spiffe://" + td + path,
		Audience: aud,
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(ttl)),
	}).Serialize()
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

// jwks is the CA's JWT bundle as the Workload API serves it.
func (c *testCA) jwks() []byte {
	c.t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: c.jwtKey.Public(), KeyID: "k1"}}})
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// fakeAPI is a real gRPC Workload API on a Unix socket serving what the
// test sets. With no X.509-SVIDs set it answers PermissionDenied "no
// identity issued", as SPIRE's agent does.
type fakeAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	ca   *testCA
	sock string
	srv  *grpc.Server

	mu      sync.Mutex
	svids   []*workload.X509SVID
	changed chan struct{} // closed and replaced on every Set
	calls   chan struct{} // one value per FetchX509SVID call (dropped if full)
}

func newFakeAPI(ca *testCA, sock string) *fakeAPI {
	return &fakeAPI{ca: ca, sock: sock, changed: make(chan struct{}), calls: make(chan struct{}, 100)}
}

// start listens on the socket and serves until stop.
func (f *fakeAPI) start(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(f.srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.srv.Serve(ln)
	}()
	t.Cleanup(func() { f.stop(); <-done })
}

// stop closes the server and removes the socket, as an agent shutting
// down does.
func (f *fakeAPI) stop() {
	f.srv.Stop()
	_ = os.Remove(f.sock)
}

// set replaces the served SVIDs and pushes them to every watcher.
func (f *fakeAPI) set(svids ...*workload.X509SVID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.svids = svids
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	select {
	case f.calls <- struct{}{}:
	default:
	}
	for {
		f.mu.Lock()
		svids, changed := f.svids, f.changed
		f.mu.Unlock()
		if len(svids) == 0 {
			return status.Error(codes.PermissionDenied, "no identity issued")
		}
		if err := stream.Send(&workload.X509SVIDResponse{Svids: svids}); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-changed:
		}
	}
}

func (f *fakeAPI) FetchJWTSVID(_ context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	f.mu.Lock()
	svids := f.svids
	f.mu.Unlock()
	if len(svids) == 0 {
		return nil, status.Error(codes.PermissionDenied, "no identity issued")
	}
	resp := &workload.JWTSVIDResponse{}
	for _, s := range svids {
		u, _ := url.Parse(s.SpiffeId)
		resp.Svids = append(resp.Svids, &workload.JWTSVID{SpiffeId: s.SpiffeId, Svid: f.ca.jwt(u.Path, req.Audience, time.Hour), Hint: s.Hint})
	}
	return resp, nil
}

func (f *fakeAPI) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream grpc.ServerStreamingServer[workload.JWTBundlesResponse]) error {
	if err := stream.Send(&workload.JWTBundlesResponse{Bundles: map[string][]byte{"spiffe://" + td: f.ca.jwks()}}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

// sockDir returns a short directory for Unix sockets (108-byte limit).
func sockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "svh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "api.sock")
}
