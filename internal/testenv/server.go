package testenv

import (
	"context"
	"encoding/pem"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/serverd"
)

// callTimeout bounds each admin API call.
const callTimeout = 10 * time.Second

// Server is a running svidkit server and a connection to its admin API.
type Server struct {
	td spiffeid.TrustDomain
	// AdminSocket is the path of the admin API's Unix socket.
	AdminSocket string
	// TCPAddr is the agent API's host:port.
	TCPAddr string
	// Admin is a gRPC connection to the admin socket, for SPIRE's API
	// clients (entryv1.NewEntryClient(s.Admin), ...).
	Admin *grpc.ClientConn
}

func startServer(t testing.TB, td spiffeid.TrustDomain, d dirs, opts Options) *Server {
	t.Helper()
	dataDir := filepath.Join(d.data, "server")
	cfg := config.NewServer()
	cfg.BindAddress = "127.0.0.1"
	cfg.BindPort = 0 // any free port: never collide with a real server on 8081
	cfg.SocketPath = d.adminSock
	cfg.TrustDomain = td
	cfg.DataDir = dataDir
	cfg.CATTL = opts.CATTL
	cfg.DefaultX509SVIDTTL = opts.SVIDTTL
	cfg.AgentTTL = time.Hour
	cfg.DataStore = config.DataStore{DatabaseType: "sqlite3", ConnectionString: filepath.Join(dataDir, "datastore.sqlite3")}
	cfg.KeyManager = config.KeyManager{Name: "disk", Path: filepath.Join(dataDir, "keys.json")}
	cfg.NodeAttestors = []string{"join_token"}
	log := opts.Log.With("daemon", "server")
	s := run(t, "server", func(ctx context.Context, started func(*server.Server)) error {
		return serverd.Run(ctx, cfg, serverd.Options{Log: log, Started: started})
	})
	conn, err := grpc.NewClient("unix://"+d.adminSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("testenv: dial admin socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Server{td: td, AdminSocket: d.adminSock, TCPAddr: s.TCPAddr().String(), Admin: conn}
}

func callCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// BundlePEM returns the trust domain's X.509 authorities as PEM, as
// `svidkit-server bundle show -format pem` prints them.
func (s *Server) BundlePEM(t testing.TB) []byte {
	t.Helper()
	b, err := bundlev1.NewBundleClient(s.Admin).GetBundle(callCtx(t), &bundlev1.GetBundleRequest{})
	if err != nil {
		t.Fatalf("testenv: GetBundle: %v", err)
	}
	var out []byte
	for _, a := range b.X509Authorities {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Asn1})...)
	}
	return out
}

// JoinToken creates a join token, valid for ten minutes, that attests an
// agent as the SPIFFE ID with agentPath.
func (s *Server) JoinToken(t testing.TB, agentPath string) string {
	t.Helper()
	tok, err := agentv1.NewAgentClient(s.Admin).CreateJoinToken(callCtx(t), &agentv1.CreateJoinTokenRequest{
		Ttl: 600, AgentId: &types.SPIFFEID{TrustDomain: s.td.Name(), Path: agentPath},
	})
	if err != nil {
		t.Fatalf("testenv: CreateJoinToken: %v", err)
	}
	return tok.Value
}
