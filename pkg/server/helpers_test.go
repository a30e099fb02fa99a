package server_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

// env is a running server with its CA, store and clients.
type env struct {
	t   testing.TB
	srv *server.Server
	ca  *testca.CA
	// bundle is the trust bundle of the server's authority (e.ca's unless
	// an option replaced the authority).
	bundle   func() *spiffebundle.Bundle
	clock    *testclock.Clock
	socket   string
	admin    *grpc.ClientConn
	registry *prometheus.Registry
	// store is the server's store unless an option replaced it.
	store *sqlite.Store
	// stop cancels Run and returns its result; later calls return the
	// first result.
	stop func() error
}

type envOption func(*server.Config)

func withPageSize(n int) envOption { return func(c *server.Config) { c.EntryPageSize = n } }

// newEnv starts a server on loopback TCP port 0 and a fresh admin socket,
// stopping it when the test ends.
func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	parts := newEnvParts(t)
	clock, authority, store := parts.clock, parts.ca, parts.store
	// Unix socket paths are limited to ~100 bytes; t.TempDir can be longer.
	sockDir, err := os.MkdirTemp("", "svk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	socket := filepath.Join(sockDir, "admin", "api.sock")
	reg := prometheus.NewRegistry()
	cfg := server.Config{
		TrustDomain: td,
		Store:       store,
		Authority:   authority,
		BindAddress: "127.0.0.1:0",
		SocketPath:  socket,
		Registerer:  reg,
		Clock:       clock,
		Log:         slog.New(slog.DiscardHandler),
		// Tests attest many agents from 127.0.0.1 in quick succession;
		// TestAttestationRateLimit turns the limit back on.
		DisableAttestationRateLimit: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-srv.Listening():
	case err := <-done:
		done <- err // for stop
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start listening")
	}
	admin, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return &env{t: t, srv: srv, ca: authority, bundle: cfg.Authority.Bundle, clock: clock, socket: socket, admin: admin, registry: reg, store: store, stop: stop}
}

// envParts are the components a server is built from.
type envParts struct {
	clock *testclock.Clock
	ca    *testca.CA
	store *sqlite.Store
}

// newEnvParts creates a fake clock, a test CA on it and a sqlite store in
// a temporary directory.
func newEnvParts(t testing.TB) envParts {
	t.Helper()
	clock := testclock.New(time.Now())
	authority, err := testca.New(td, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return envParts{clock: clock, ca: authority, store: store}
}

// tcpConn dials the agent endpoint, verifying the server SVID and
// presenting svid when non-nil.
func (e *env) tcpConn(svid *x509svid.SVID) *grpc.ClientConn {
	e.t.Helper()
	serverID := spiffeid.RequireFromPath(td, "/spire/server")
	var tlsCfg = tlsconfig.TLSClientConfig(e.bundle(), tlsconfig.AuthorizeID(serverID))
	if svid != nil {
		tlsCfg = tlsconfig.MTLSClientConfig(svid, e.bundle(), tlsconfig.AuthorizeID(serverID))
	}
	conn, err := grpc.NewClient(e.srv.TCPAddr().String(), grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	return conn
}

// newKeyCSR returns a fresh key and a CSR for it carrying the given URIs.
func newKeyCSR(t testing.TB, uris ...string) (crypto.Signer, []byte) {
	t.Helper()
	key := testca.NewKey(t)
	tmpl := &x509.CertificateRequest{}
	for _, u := range uris {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// createToken creates a join token through the admin socket.
func (e *env) createToken(token string, ttl int32, agentID *types.SPIFFEID) string {
	e.t.Helper()
	jt, err := agentv1.NewAgentClient(e.admin).CreateJoinToken(context.Background(),
		&agentv1.CreateJoinTokenRequest{Token: token, Ttl: ttl, AgentId: agentID})
	if err != nil {
		e.t.Fatalf("CreateJoinToken: %v", err)
	}
	return jt.Value
}

// attest runs join-token attestation over TCP without a client cert.
func (e *env) attest(token string) (*x509svid.SVID, error) {
	e.t.Helper()
	key, csr := newKeyCSR(e.t)
	return e.attestWith(token, joinTokenData(token), csr, key)
}

func joinTokenData(token string) *types.AttestationData {
	return &types.AttestationData{Type: "join_token", Payload: []byte(token)}
}

func (e *env) attestWith(token string, data *types.AttestationData, csr []byte, key crypto.Signer) (*x509svid.SVID, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return e.attestCtx(ctx, data, csr, key)
}

// attestCtx runs one attestation within ctx, as an agent's attempt.
func (e *env) attestCtx(ctx context.Context, data *types.AttestationData, csr []byte, key crypto.Signer) (*x509svid.SVID, error) {
	e.t.Helper()
	stream, err := agentv1.NewAgentClient(e.tcpConn(nil)).AttestAgent(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{
		Params: &agentv1.AttestAgentRequest_Params{Data: data, Params: &agentv1.AgentX509SVIDParams{Csr: csr}},
	}}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	// Read to the end of the call: the server writes its status only once
	// the handler and its interceptors (metrics) have returned.
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("attestation stream did not end after the result: %v", err)
	}
	return svidFrom(e.t, resp.GetResult().GetSvid(), key), nil
}

// svidFrom builds a go-spiffe SVID from an API X509SVID and its key.
func svidFrom(t testing.TB, in *types.X509SVID, key crypto.Signer) *x509svid.SVID {
	t.Helper()
	var certs []*x509.Certificate
	for _, der := range in.GetCertChain() {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		t.Fatal("empty cert chain")
	}
	id, err := x509svid.IDFromCert(certs[0])
	if err != nil {
		t.Fatal(err)
	}
	return &x509svid.SVID{ID: id, Certificates: certs, PrivateKey: key}
}

// mustAttest creates a token and attests an agent with it.
func (e *env) mustAttest(token string) *x509svid.SVID {
	e.t.Helper()
	e.createToken(token, 600, nil)
	svid, err := e.attest(token)
	if err != nil {
		e.t.Fatalf("attest %q: %v", token, err)
	}
	return svid
}

// createEntries creates entries through the admin socket and returns them
// as stored.
func (e *env) createEntries(entries ...*types.Entry) []*types.Entry {
	e.t.Helper()
	resp, err := entryv1.NewEntryClient(e.admin).BatchCreateEntry(context.Background(),
		&entryv1.BatchCreateEntryRequest{Entries: entries})
	if err != nil {
		e.t.Fatalf("BatchCreateEntry: %v", err)
	}
	out := make([]*types.Entry, len(resp.Results))
	for i, r := range resp.Results {
		if codes.Code(r.Status.Code) != codes.OK {
			e.t.Fatalf("create entry %d: %s", i, r.Status.Message)
		}
		out[i] = r.Entry
	}
	return out
}

func pid(path string) *types.SPIFFEID { return &types.SPIFFEID{TrustDomain: td.Name(), Path: path} }

func idOf(svid *x509svid.SVID) *types.SPIFFEID { return pid(svid.ID.Path()) }

func sels(s ...string) []*types.Selector {
	out := make([]*types.Selector, len(s))
	for i, v := range s {
		typ, val, _ := strings.Cut(v, ":")
		out[i] = &types.Selector{Type: typ, Value: val}
	}
	return out
}

// wantCode fails the test unless err has the given code.
func wantCode(t testing.TB, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("got code %v (%v), want %v", got, err, want)
	}
}
