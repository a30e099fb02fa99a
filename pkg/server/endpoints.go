package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	trustdomainv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/trustdomain/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/svidkit/svidkit/pkg/grpcstop"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// Permissions of the admin socket and of its directory when created.
const (
	socketMode    = 0o770
	socketDirMode = 0o750
)

// streamWorkers is the number of long-lived goroutines each gRPC server
// runs RPCs on. Reusing them spares every RPC a fresh goroutine whose stack
// must grow again to the depth of the signing code; when all are busy, gRPC
// falls back to a new goroutine.
func streamWorkers() uint32 {
	return uint32(max(8, 4*runtime.GOMAXPROCS(0)))
}

// registerServices registers every API service on g.
func (s *Server) registerServices(g *grpc.Server) {
	agentv1.RegisterAgentServer(g, &agentService{deps: s.deps})
	svidv1.RegisterSVIDServer(g, &svidService{deps: s.deps})
	entryv1.RegisterEntryServer(g, &entryService{deps: s.deps})
	bundlev1.RegisterBundleServer(g, &bundleService{deps: s.deps})
	trustdomainv1.RegisterTrustDomainServer(g, &trustDomainService{deps: s.deps})
}

// newTCPServer builds the agent endpoint: TLS with the server SVID, and
// per-request agent authorization.
func (s *Server) newTCPServer() *grpc.Server {
	creds := credentials.NewTLS(tcpTLSConfig(s.svid, s.deps.cfg.Authority, s.deps.cfg.Clock))
	g := grpc.NewServer(
		grpc.Creds(creds),
		grpc.NumStreamWorkers(streamWorkers()),
		// svidkit agents ping a held entry sync every 15 s to notice
		// dead connections; gRPC's default policy would allow one ping
		// per 5 minutes and close their connections.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second}),
		grpc.KeepaliveParams(connectionAge()),
		// Every agent keeps a connection open, mostly idle in a held
		// sync: no per-connection read buffer. TLS already buffers a
		// whole record below gRPC's framer, so its 32 KiB read buffer
		// only copied: 320 MB at 10,000 agents. (gRPC takes the write
		// buffer from a pool while writing by default.)
		grpc.ReadBufferSize(0),
		grpc.ChainUnaryInterceptor(s.deps.metrics.unary, s.rpcStatus.unary, s.auth.unaryTCP),
		grpc.ChainStreamInterceptor(s.deps.metrics.stream, s.rpcStatus.stream, s.auth.streamTCP),
	)
	s.registerServices(g)
	return g
}

// newAdminServer builds the admin endpoint, where every caller is local
// and trusted, plus the gRPC health service for health checks.
func (s *Server) newAdminServer() (*grpc.Server, *health.Server) {
	g := grpc.NewServer(
		grpc.NumStreamWorkers(streamWorkers()),
		grpc.ChainUnaryInterceptor(s.deps.metrics.unary, s.rpcStatus.unary, unaryLocal),
		grpc.ChainStreamInterceptor(s.deps.metrics.stream, s.rpcStatus.stream, streamLocal),
	)
	s.registerServices(g)
	h := health.NewServer()
	h.Shutdown() // not serving until Run says so
	healthpb.RegisterHealthServer(g, h)
	return g, h
}

// listenAdminSocket creates the admin socket with mode socketMode with
// package unixsock, creating its directory (socketDirMode) if missing,
// replacing a stale socket and refusing a directory on the path that
// another user could change unless shared.
func listenAdminSocket(ctx context.Context, path string, shared bool, log *slog.Logger) (net.Listener, error) {
	lis, err := unixsock.Listen(ctx, path, unixsock.Config{
		Mode:       socketMode,
		DirMode:    socketDirMode,
		SharedDir:  shared,
		SharedHint: "socket_dir_shared = true in the server block",
		Log:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return lis, nil
}

// endpoint is one gRPC server and the listener it serves.
type endpoint struct {
	name string
	srv  *grpc.Server
	lis  net.Listener
}

// serveEndpoints serves every endpoint until ctx ends or one fails, marking
// the server ready (Ready, the health service, Listening) once all serve.
// Then it marks the server not ready, releases held entry syncs and stops
// the endpoints gracefully within gracefulStopTimeout. It returns the
// endpoints' failures, nil after a stop caused by ctx.
func (s *Server) serveEndpoints(ctx context.Context, health *health.Server, eps ...endpoint) error {
	errc := make(chan error, len(eps))
	for _, ep := range eps {
		go func() { errc <- serve(ep) }()
	}
	s.ready.Store(true)
	health.Resume()
	close(s.listening)
	s.deps.cfg.Log.Info("server listening", "tcp", s.TCPAddr().String(), "socket", s.deps.cfg.SocketPath)

	var errs []error
	pending := len(eps)
	select {
	case <-ctx.Done():
	case err := <-errc:
		errs = append(errs, err)
		pending--
	}
	s.ready.Store(false)
	health.Shutdown()
	close(s.deps.stopping) // held syncs answer now instead of delaying the stop
	servers := make([]*grpc.Server, len(eps))
	for i, ep := range eps {
		servers[i] = ep.srv
	}
	grpcstop.Graceful(gracefulStopTimeout, servers...)
	for range pending {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}

// serve runs ep's Serve, treating a normal stop as success.
func serve(ep endpoint) error {
	if err := ep.srv.Serve(ep.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("%s: %w", ep.name, err)
	}
	return nil
}

// maxConnectionAge caps how long an agent keeps one connection, as SPIRE's
// server does (3 minutes, gRPC adds ±10 % jitter): the agent then
// reconnects and resolves the servers' name again, so servers added behind
// the name (a scaled-up StatefulSet, a restarted pod with a new address)
// get their share of agents within minutes instead of never.
const maxConnectionAge = 3 * time.Minute

// connectionAge is the agent endpoint's connection age cap. The grace lets
// calls in flight when the cap is reached finish, held entry syncs
// included (the server holds one maxSyncWait at most), so an agent never
// sees a call fail because its connection aged out.
func connectionAge() keepalive.ServerParameters {
	return keepalive.ServerParameters{
		MaxConnectionAge:      maxConnectionAge,
		MaxConnectionAgeGrace: maxSyncWait + 10*time.Second,
	}
}
