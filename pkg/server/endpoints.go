package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

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
		grpc.ChainUnaryInterceptor(s.deps.metrics.unary, s.auth.unaryTCP),
		grpc.ChainStreamInterceptor(s.deps.metrics.stream, s.auth.streamTCP),
	)
	s.registerServices(g)
	return g
}

// newAdminServer builds the admin endpoint, where every caller is local
// and trusted, plus the gRPC health service for health checks.
func (s *Server) newAdminServer() (*grpc.Server, *health.Server) {
	g := grpc.NewServer(
		grpc.NumStreamWorkers(streamWorkers()),
		grpc.ChainUnaryInterceptor(s.deps.metrics.unary, unaryLocal),
		grpc.ChainStreamInterceptor(s.deps.metrics.stream, streamLocal),
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

// stopGracefully stops the servers, waiting at most gracefulStopTimeout for
// in-flight RPCs before closing connections.
func stopGracefully(servers ...*grpc.Server) {
	var wg sync.WaitGroup
	for _, g := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			go func() { g.GracefulStop(); close(done) }()
			t := time.NewTimer(gracefulStopTimeout)
			defer t.Stop()
			select {
			case <-done:
			case <-t.C:
				g.Stop()
				<-done
			}
		}()
	}
	wg.Wait()
}
