package helpere2e_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/agentd"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/serverd"
)

const trustDomain = "helper-e2e.test"

// env is one test's world: data directory, short socket directory, the
// running server and its admin connection.
type env struct {
	t         testing.TB
	td        spiffeid.TrustDomain
	dir       string
	sockDir   string
	adminSock string
	tcpAddr   string
	conn      *grpc.ClientConn
}

func newEnv(t testing.TB) *env {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "svhe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	return &env{
		t:         t,
		td:        spiffeid.RequireTrustDomainFromString(trustDomain),
		dir:       t.TempDir(),
		sockDir:   sockDir,
		adminSock: filepath.Join(sockDir, "admin.sock"),
	}
}

func daemonLogger() *slog.Logger {
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startServer runs a server until the test ends.
func (e *env) startServer() {
	e.t.Helper()
	cfg := config.NewServer()
	cfg.BindAddress = "127.0.0.1"
	cfg.BindPort = 0 // any free port: tests must not collide with a real server on 8081
	cfg.SocketPath = e.adminSock
	cfg.TrustDomain = e.td
	cfg.DataDir = filepath.Join(e.dir, "server")
	cfg.CATTL = 24 * time.Hour
	cfg.DefaultX509SVIDTTL = time.Hour
	cfg.AgentTTL = time.Hour
	cfg.DataStore = config.DataStore{DatabaseType: "sqlite3", ConnectionString: filepath.Join(e.dir, "server", "datastore.sqlite3")}
	cfg.KeyManager = config.KeyManager{Name: "disk", Path: filepath.Join(e.dir, "server", "keys.json")}
	cfg.NodeAttestors = []string{"join_token"}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *server.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- serverd.Run(ctx, cfg, serverd.Options{Log: daemonLogger(), Started: func(s *server.Server) { started <- s }})
	}()
	select {
	case s := <-started:
		e.tcpAddr = s.TCPAddr().String()
	case err := <-done:
		cancel()
		e.t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		e.t.Fatal("server did not start within 30s")
	}
	conn, err := grpc.NewClient("unix://"+e.adminSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatal(err)
	}
	e.conn = conn
	e.t.Cleanup(func() {
		conn.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			e.t.Error("server did not stop within 30s")
		}
	})
}

// agentProc is one running agent.
type agentProc struct {
	sock string
	stop func()
}

// startAgent runs agent name (its data dir and socket follow from the
// name, so starting the same name again is an agent restart) and waits
// until its Workload API socket listens. joinToken is needed only on the
// first start.
func (e *env) startAgent(name, joinToken string) *agentProc {
	e.t.Helper()
	cfg := e.agentConfig(name, joinToken)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *agent.Agent, 1)
	done := make(chan error, 1)
	go func() {
		done <- agentd.Run(ctx, cfg, agentd.Options{Log: daemonLogger(), Started: func(a *agent.Agent) { started <- a }})
	}()
	select {
	case <-started:
	case err := <-done:
		cancel()
		e.t.Fatalf("agent %s exited before serving: %v", name, err)
	case <-time.After(30 * time.Second):
		cancel()
		e.t.Fatalf("agent %s did not serve within 30s", name)
	}
	var stopped bool
	p := &agentProc{sock: cfg.SocketPath}
	p.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("agent %s Run: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			e.t.Errorf("agent %s did not stop within 30s", name)
		}
	}
	e.t.Cleanup(p.stop)
	return p
}

func (e *env) agentConfig(name, joinToken string) *config.Agent {
	e.t.Helper()
	bundlePath := filepath.Join(e.dir, "bundle.pem")
	if err := os.WriteFile(bundlePath, e.bundlePEM(), 0o644); err != nil {
		e.t.Fatal(err)
	}
	host, portStr, err := net.SplitHostPort(e.tcpAddr)
	if err != nil {
		e.t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	cfg := config.NewAgent()
	cfg.DataDir = filepath.Join(e.dir, "agent-"+name)
	cfg.ServerAddress = host
	cfg.ServerPort = port
	cfg.SocketPath = filepath.Join(e.sockDir, name+".sock")
	cfg.TrustDomain = e.td
	cfg.TrustBundlePath = bundlePath
	cfg.JoinToken = joinToken
	cfg.KeyManager = config.KeyManager{Name: "disk", Path: cfg.DataDir}
	cfg.NodeAttestor = "join_token"
	cfg.Unix = &config.UnixAttestor{DiscoverWorkloadPath: true}
	return cfg
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *env) bundlePEM() []byte {
	e.t.Helper()
	b, err := bundlev1.NewBundleClient(e.conn).GetBundle(e.ctx(), &bundlev1.GetBundleRequest{})
	if err != nil {
		e.t.Fatalf("GetBundle: %v", err)
	}
	var out []byte
	for _, a := range b.X509Authorities {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Asn1})...)
	}
	return out
}

// joinToken creates a join token for the agent ID /node.
func (e *env) joinToken() string {
	e.t.Helper()
	tok, err := agentv1.NewAgentClient(e.conn).CreateJoinToken(e.ctx(), &agentv1.CreateJoinTokenRequest{
		Ttl: 600, AgentId: &types.SPIFFEID{TrustDomain: trustDomain, Path: "/node"},
	})
	if err != nil {
		e.t.Fatalf("CreateJoinToken: %v", err)
	}
	return tok.Value
}

// workloadEntry is an entry for this process's uid under /node.
func workloadEntry(path string, ttl int32) *types.Entry {
	return &types.Entry{
		SpiffeId:    &types.SPIFFEID{TrustDomain: trustDomain, Path: path},
		ParentId:    &types.SPIFFEID{TrustDomain: trustDomain, Path: "/node"},
		Selectors:   []*types.Selector{{Type: "unix", Value: fmt.Sprintf("uid:%d", os.Getuid())}},
		X509SvidTtl: ttl,
	}
}

// createEntry creates an entry and returns it as stored.
func (e *env) createEntry(entry *types.Entry) *types.Entry {
	e.t.Helper()
	resp, err := entryv1.NewEntryClient(e.conn).BatchCreateEntry(e.ctx(), &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{entry}})
	if err != nil {
		e.t.Fatalf("BatchCreateEntry: %v", err)
	}
	if r := resp.Results[0]; codes.Code(r.Status.Code) != codes.OK {
		e.t.Fatalf("BatchCreateEntry: %s", r.Status.Message)
	}
	return resp.Results[0].Entry
}

// setDNSNames updates an entry's DNS names, which makes the agent mint a
// new SVID for it at its next sync.
func (e *env) setDNSNames(id string, names ...string) {
	e.t.Helper()
	resp, err := entryv1.NewEntryClient(e.conn).BatchUpdateEntry(e.ctx(), &entryv1.BatchUpdateEntryRequest{
		Entries:   []*types.Entry{{Id: id, DnsNames: names}},
		InputMask: &types.EntryMask{DnsNames: true},
	})
	if err != nil {
		e.t.Fatalf("BatchUpdateEntry: %v", err)
	}
	if r := resp.Results[0]; codes.Code(r.Status.Code) != codes.OK {
		e.t.Fatalf("BatchUpdateEntry: %s", r.Status.Message)
	}
}
