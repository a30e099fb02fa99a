package e2e_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
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

const trustDomain = "e2e.test"

// env is one test's world: a data directory, a short socket directory, and
// the running daemons.
type env struct {
	t         testing.TB
	td        spiffeid.TrustDomain
	dir       string
	sockDir   string
	adminSock string
	tcpAddr   string
	port      int
	// healthPort, when set, enables the server's health_checks listener.
	healthPort int

	// ServerConfig is applied to every server start.
	svidTTL time.Duration
	caTTL   time.Duration
	// serverConfig, when set, adjusts the server configuration of every
	// start (node attestors, notifiers, TTLs).
	serverConfig func(*config.Server)
}

func newEnv(t testing.TB) *env {
	t.Helper()
	// Unix socket paths are limited to 108 bytes: keep them short.
	sockDir, err := os.MkdirTemp("", "svk")
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
		svidTTL:   time.Hour,
		caTTL:     24 * time.Hour,
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startServer runs a server until the returned stop function is called (or
// the test ends). It waits until both listeners accept connections.
func (e *env) startServer() (stop func()) {
	e.t.Helper()
	cfg := config.NewServer()
	cfg.BindAddress = "127.0.0.1"
	// The first start picks a free port; restarts reuse it, as a real
	// server keeps its address, so agents can reconnect.
	cfg.BindPort = e.port
	cfg.SocketPath = e.adminSock
	cfg.TrustDomain = e.td
	cfg.DataDir = filepath.Join(e.dir, "server")
	cfg.CATTL = e.caTTL
	cfg.DefaultX509SVIDTTL = e.svidTTL
	cfg.AgentTTL = time.Hour
	cfg.DataStore = config.DataStore{DatabaseType: "sqlite3", ConnectionString: filepath.Join(e.dir, "server", "datastore.sqlite3")}
	cfg.KeyManager = config.KeyManager{Name: "disk", Path: filepath.Join(e.dir, "server", "keys.json")}
	cfg.NodeAttestors = []string{"join_token"}
	if e.healthPort != 0 {
		cfg.Health.ListenerEnabled = true
		cfg.Health.BindAddress = "127.0.0.1"
		cfg.Health.BindPort = e.healthPort
	}
	if e.serverConfig != nil {
		e.serverConfig(cfg)
	}

	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *server.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- serverd.Run(ctx, cfg, serverd.Options{Log: testLogger(e.t).With("daemon", "server"), Started: func(s *server.Server) { started <- s }})
	}()
	select {
	case s := <-started:
		e.tcpAddr = s.TCPAddr().String()
		_, e.port = splitHostPort(e.t, e.tcpAddr)
	case err := <-done:
		cancel()
		e.t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		e.t.Fatal("server did not start listening within 30s")
	}
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("server Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			e.t.Error("server did not stop within 30s of cancel")
		}
	}
	e.t.Cleanup(stop)
	return stop
}

// agentProc is one running agent.
type agentProc struct {
	sock  string
	agent *agent.Agent
	stop  func()
}

// startAgent runs an agent with its own data dir name and waits until its
// Workload API socket listens.
func (e *env) startAgent(name, joinToken string) *agentProc {
	e.t.Helper()
	return e.startAgentWith(name, e.agentConfig(name, joinToken))
}

// startAgentWith runs agent name with cfg, as startAgent does.
func (e *env) startAgentWith(name string, cfg *config.Agent) *agentProc {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *agent.Agent, 1)
	done := make(chan error, 1)
	go func() {
		done <- agentd.Run(ctx, cfg, agentd.Options{Log: testLogger(e.t).With("daemon", "agent-"+name), Started: func(a *agent.Agent) { started <- a }})
	}()
	p := &agentProc{sock: cfg.SocketPath}
	select {
	case p.agent = <-started:
	case err := <-done:
		cancel()
		e.t.Fatalf("agent %s exited before serving: %v", name, err)
	case <-time.After(30 * time.Second):
		cancel()
		e.t.Fatalf("agent %s did not serve within 30s", name)
	}
	var stopped bool
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
			e.t.Errorf("agent %s did not stop within 30s of cancel", name)
		}
	}
	e.t.Cleanup(p.stop)
	return p
}

// admin dials the server's admin socket.
func (e *env) admin() *grpc.ClientConn {
	e.t.Helper()
	conn, err := grpc.NewClient("unix://"+e.adminSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	return conn
}

func (e *env) bundlePEM() []byte {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bundlev1.NewBundleClient(e.admin()).GetBundle(ctx, &bundlev1.GetBundleRequest{})
	if err != nil {
		e.t.Fatalf("GetBundle: %v", err)
	}
	var out []byte
	for _, a := range b.X509Authorities {
		out = append(out, pemCert(a.Asn1)...)
	}
	return out
}

// joinToken creates a join token aliased to aliasPath (when not empty).
func (e *env) joinToken(aliasPath string) string {
	e.t.Helper()
	req := &agentv1.CreateJoinTokenRequest{Ttl: 600}
	if aliasPath != "" {
		req.AgentId = &types.SPIFFEID{TrustDomain: trustDomain, Path: aliasPath}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := agentv1.NewAgentClient(e.admin()).CreateJoinToken(ctx, req)
	if err != nil {
		e.t.Fatalf("CreateJoinToken: %v", err)
	}
	return tok.Value
}

// createEntry creates an entry and returns its ID.
func (e *env) createEntry(entry *types.Entry) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := entryv1.NewEntryClient(e.admin()).BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{entry}})
	if err != nil {
		e.t.Fatalf("BatchCreateEntry: %v", err)
	}
	r := resp.Results[0]
	if codes.Code(r.Status.Code) != codes.OK {
		e.t.Fatalf("BatchCreateEntry: %s", r.Status.Message)
	}
	return r.Entry.Id
}

func (e *env) deleteEntry(id string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := entryv1.NewEntryClient(e.admin()).BatchDeleteEntry(ctx, &entryv1.BatchDeleteEntryRequest{Ids: []string{id}})
	if err != nil {
		e.t.Fatalf("BatchDeleteEntry: %v", err)
	}
	if c := codes.Code(resp.Results[0].Status.Code); c != codes.OK {
		e.t.Fatalf("BatchDeleteEntry: %s", resp.Results[0].Status.Message)
	}
}

// workloadEntry is an entry for this test process's uid under parentPath.
func workloadEntry(parentPath, path string, ttl int32) *types.Entry {
	return &types.Entry{
		SpiffeId:    &types.SPIFFEID{TrustDomain: trustDomain, Path: path},
		ParentId:    &types.SPIFFEID{TrustDomain: trustDomain, Path: parentPath},
		Selectors:   []*types.Selector{{Type: "unix", Value: fmt.Sprintf("uid:%d", os.Getuid())}},
		X509SvidTtl: ttl,
	}
}

// client returns a go-spiffe Workload API client for the agent's socket.
func (p *agentProc) client(t testing.TB) *workloadapi.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+p.sock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runAgentExpectingFailure runs an agent that must fail to start (for
// example with a used join token) and returns its error.
func (e *env) runAgentExpectingFailure(name, joinToken string) error {
	e.t.Helper()
	return e.runAgentConfigExpectingFailure(name, e.agentConfig(name, joinToken))
}

// runAgentConfigExpectingFailure runs agent name with cfg, which must fail
// to start, and returns its error.
func (e *env) runAgentConfigExpectingFailure(name string, cfg *config.Agent) error {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := agentd.Run(ctx, cfg, agentd.Options{Log: testLogger(e.t), Started: func(*agent.Agent) {
		e.t.Errorf("agent %s started serving", name)
	}})
	if ctx.Err() != nil {
		e.t.Fatalf("agent %s neither failed nor started within 30s", name)
	}
	return err
}

// agentConfig is the configuration of agent name, as its config file would
// give it.
func (e *env) agentConfig(name, joinToken string) *config.Agent {
	e.t.Helper()
	bundlePath := filepath.Join(e.dir, "bundle.pem")
	if err := os.WriteFile(bundlePath, e.bundlePEM(), 0o644); err != nil {
		e.t.Fatal(err)
	}
	host, port := splitHostPort(e.t, e.tcpAddr)
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
