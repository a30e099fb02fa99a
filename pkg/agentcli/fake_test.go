package agentcli_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/svidkit/svidkit/pkg/agentcli"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const workloadID = "spiffe://example.org/workload"

// identity is a CA and one workload X.509-SVID and JWT signing key.
type identity struct {
	caDER, leafDER, keyDER []byte
	leaf                   *x509.Certificate
	jwtKey                 *ecdsa.PrivateKey
}

func newIdentity(t *testing.T) *identity {
	t.Helper()
	caKey := mustKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs: []*url.URL{{Scheme: "spiffe", Host: "example.org"}},
	}
	caDER := mustCert(t, caTmpl, caTmpl, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)
	leafKey := mustKey(t)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, URIs: []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/workload"}},
	}
	leafDER := mustCert(t, leafTmpl, ca, leafKey.Public(), caKey)
	leaf, _ := x509.ParseCertificate(leafDER)
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	return &identity{caDER: caDER, leafDER: leafDER, keyDER: keyDER, leaf: leaf, jwtKey: mustKey(t)}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (id *identity) x509Response(hint string) *workload.X509SVIDResponse {
	return &workload.X509SVIDResponse{Svids: []*workload.X509SVID{{
		SpiffeId: workloadID, X509Svid: id.leafDER, X509SvidKey: id.keyDER, Bundle: id.caDER, Hint: hint,
	}}}
}

// signJWT mints a JWT-SVID; it runs in server handlers, so it returns
// errors rather than failing the test.
func (id *identity) signJWT(sub string, aud []string) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: id.jwtKey},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "kid1"))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(jwt.Claims{
		Subject: sub, Audience: aud, Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).Serialize()
}

// fakeWorkloadAPI serves fixed X.509 and JWT responses. updates feeds
// further X.509 responses to open FetchX509SVID streams.
type fakeWorkloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	id      *identity
	denied  bool // answer every call with "no identity issued"
	hint    string
	updates chan *workload.X509SVIDResponse

	mu     sync.Mutex
	jwtReq *workload.JWTSVIDRequest
}

func (f *fakeWorkloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	if f.denied {
		return status.Error(codes.PermissionDenied, "no identity issued")
	}
	if err := stream.Send(f.id.x509Response(f.hint)); err != nil {
		return err
	}
	for {
		select {
		case resp := <-f.updates:
			if err := stream.Send(resp); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (f *fakeWorkloadAPI) FetchJWTSVID(_ context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	if f.denied {
		return nil, status.Error(codes.PermissionDenied, "no identity issued")
	}
	f.mu.Lock()
	f.jwtReq = req
	f.mu.Unlock()
	sub := req.SpiffeId
	if sub == "" {
		sub = workloadID
	}
	tok, err := f.id.signJWT(sub, req.Audience)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &workload.JWTSVIDResponse{Svids: []*workload.JWTSVID{{SpiffeId: sub, Svid: tok, Hint: f.hint}}}, nil
}

func (f *fakeWorkloadAPI) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream grpc.ServerStreamingServer[workload.JWTBundlesResponse]) error {
	b := jwtbundle.New(spiffeid.RequireTrustDomainFromString("example.org"))
	if err := b.AddJWTAuthority("kid1", f.id.jwtKey.Public()); err != nil {
		return err
	}
	doc, err := b.Marshal()
	if err != nil {
		return err
	}
	if err := stream.Send(&workload.JWTBundlesResponse{Bundles: map[string][]byte{"spiffe://example.org": doc}}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func (f *fakeWorkloadAPI) lastJWTRequest() *workload.JWTSVIDRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jwtReq
}

// startFake serves f on a fresh Unix socket and returns its path.
func startFake(t *testing.T, f *fakeWorkloadAPI) string {
	t.Helper()
	if f.updates == nil {
		f.updates = make(chan *workload.X509SVIDResponse)
	}
	dir, err := os.MkdirTemp("", "ska")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return path
}

// syncBuffer is a goroutine-safe output buffer that signals every write.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{written: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.written <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor blocks until cond holds for the buffer's content or the deadline
// passes.
func (b *syncBuffer) waitFor(t *testing.T, what string, cond func(string) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond(b.String()) {
		select {
		case <-b.written:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; output so far:\n%s", what, b.String())
		}
	}
}

// run executes the CLI with args as main would and captures its output.
func run(t *testing.T, ctx context.Context, opts agentcli.Options, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := agentcli.New(opts)
	out, errOut := newSyncBuffer(), newSyncBuffer()
	root.SetOut(out)
	root.SetErr(errOut)
	code = cliargs.Execute(ctx, root, args)
	return code, out.String(), errOut.String()
}

func count(s, sub string) int { return strings.Count(s, sub) }
