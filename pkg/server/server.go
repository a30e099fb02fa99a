package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// gracefulStopTimeout bounds how long Run waits for in-flight RPCs after
// its context is cancelled before it closes connections forcibly.
const gracefulStopTimeout = 5 * time.Second

// Server serves the svidkit server APIs on the agent TCP endpoint and the
// admin Unix socket.
type Server struct {
	deps *deps
	svid *serverSVID
	auth *agentAuthorizer
	// rpcStatus settles every RPC's final status.
	rpcStatus rpcStatus

	listening chan struct{}
	ready     atomic.Bool
	mu        sync.Mutex
	tcpAddr   net.Addr
	runOnce   atomic.Bool
}

// New validates cfg, fills in defaults and returns a Server ready to Run.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	serverID, err := spiffeid.FromSegments(cfg.TrustDomain, "spire", "server")
	if err != nil {
		return nil, fmt.Errorf("server: build server ID: %w", err)
	}
	d := &deps{metrics: m, serverID: serverID, stopping: make(chan struct{})}
	d.notifier, _ = cfg.Store.(datastore.ChangeNotifier)
	checkEvery := storeCheckInterval(d.notifier)
	agents := newAgentCache(cfg.Store, checkEvery, &d.heldAgents)
	cfg.Store = &agentWriteStore{Store: cfg.Store, agents: agents}
	auth := &agentAuthorizer{agents: agents, store: cfg.Store, td: cfg.TrustDomain, clock: cfg.Clock}
	attestors := make(map[string]nodeattest.Attestor)
	if !cfg.DisableJoinToken {
		attestors[joinTokenType] = &joinTokenAttestor{td: cfg.TrustDomain}
	}
	for _, a := range cfg.NodeAttestors {
		attestors[a.Type()] = a
	}
	d.cfg, d.auth, d.attestors = cfg, auth, attestors
	d.cache, d.bundles = newEntryCache(cfg.Store), newBundleCache(cfg.Store, cfg.Authority)
	d.cache.maxAge, d.bundles.maxAge = checkEvery, checkEvery
	if !cfg.DisableAttestationRateLimit {
		d.attestLimit = newIPLimiter(attestPerIP, attestPerIP)
	}
	return &Server{
		deps:      d,
		svid:      &serverSVID{id: serverID, authority: cfg.Authority, clock: cfg.Clock, log: cfg.Log},
		auth:      auth,
		rpcStatus: rpcStatus{log: cfg.Log},
		listening: make(chan struct{}),
	}, nil
}

// Listening is closed once both endpoints accept connections. It is never
// closed if Run fails before listening.
func (s *Server) Listening() <-chan struct{} { return s.listening }

// Ready reports whether the server is serving both endpoints.
func (s *Server) Ready() bool { return s.ready.Load() }

// TCPAddr returns the agent endpoint's address once listening, else nil.
// It resolves a port 0 bind address to the chosen port.
func (s *Server) TCPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tcpAddr
}

// Run serves both endpoints until ctx is cancelled, then stops gracefully
// (bounded by gracefulStopTimeout) and returns nil. It returns an error if
// an endpoint cannot start or fails. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.runOnce.CompareAndSwap(false, true) {
		return errors.New("server: Run called twice")
	}
	cfg := s.deps.cfg
	if err := s.svid.rotate(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	tcpLis, err := net.Listen("tcp", cfg.BindAddress)
	if err != nil {
		return fmt.Errorf("server: listen on %q: %w", cfg.BindAddress, err)
	}
	unixLis, err := listenAdminSocket(ctx, cfg.SocketPath, cfg.SocketDirShared, cfg.Log)
	if err != nil {
		return errors.Join(fmt.Errorf("server: %w", err), tcpLis.Close())
	}
	s.mu.Lock()
	s.tcpAddr = tcpLis.Addr()
	s.mu.Unlock()

	tcpSrv := s.newTCPServer()
	adminSrv, health := s.newAdminServer()
	err = taskrun.Run(ctx,
		taskrun.Task{Name: "endpoints", Run: func(ctx context.Context) error {
			return s.serveEndpoints(ctx, health,
				endpoint{name: "agent endpoint", srv: tcpSrv, lis: tcpLis},
				endpoint{name: "admin endpoint", srv: adminSrv, lis: unixLis})
		}},
		taskrun.Task{Name: "server SVID rotation", Run: s.svid.Run},
		taskrun.Task{Name: "store watch", Run: s.deps.watchStore},
		taskrun.Task{Name: "entry reload", Run: s.deps.cache.reloadWrites},
	)
	cfg.Log.Info("server stopped")
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
