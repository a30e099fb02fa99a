package testenv

import (
	"context"
	"encoding/pem"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// callTimeout bounds each admin API call.
const callTimeout = 10 * time.Second

// Admin is a client of a server's admin API socket. Its methods fail the
// test on any error.
type Admin struct {
	td   spiffeid.TrustDomain
	conn *grpc.ClientConn
}

// DialAdmin connects to the admin API at socket of a server of td; the
// connection closes when the test ends. Dialing does not wait for the
// server: the first call does.
func DialAdmin(t testing.TB, socket string, td spiffeid.TrustDomain) *Admin {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("testenv: dial admin socket %s: %v", socket, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Admin{td: td, conn: conn}
}

// Conn is the connection, for SPIRE's API clients
// (agentv1.NewAgentClient(a.Conn()), ...).
func (a *Admin) Conn() *grpc.ClientConn { return a.conn }

// callCtx bounds one admin API call.
func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

// BundlePEM returns the trust domain's X.509 authorities as PEM, as
// `svidkit-server bundle show -format pem` prints them.
func (a *Admin) BundlePEM(t testing.TB) []byte {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	b, err := bundlev1.NewBundleClient(a.conn).GetBundle(ctx, &bundlev1.GetBundleRequest{})
	if err != nil {
		t.Fatalf("testenv: GetBundle: %v", err)
	}
	var out []byte
	for _, x := range b.X509Authorities {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Asn1})...)
	}
	return out
}

// JoinToken creates a join token, valid for ten minutes. An agent attested
// with it gets the SPIFFE ID with agentPath or, when agentPath is empty,
// the default spire/agent/join_token/<token>.
func (a *Admin) JoinToken(t testing.TB, agentPath string) string {
	t.Helper()
	req := &agentv1.CreateJoinTokenRequest{Ttl: 600}
	if agentPath != "" {
		req.AgentId = &types.SPIFFEID{TrustDomain: a.td.Name(), Path: agentPath}
	}
	ctx, cancel := callCtx()
	defer cancel()
	tok, err := agentv1.NewAgentClient(a.conn).CreateJoinToken(ctx, req)
	if err != nil {
		t.Fatalf("testenv: CreateJoinToken: %v", err)
	}
	return tok.Value
}
