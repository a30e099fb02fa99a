package workloadapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/grpcstop"
	"github.com/svidkit/svidkit/pkg/peercred"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// DefaultSocketMode is the mode ListenUnix applies when given 0: any local
// workload must be able to connect, as with SPIRE's public socket; callers
// are told apart by attestation, not by file permissions.
const DefaultSocketMode os.FileMode = 0o777

// shutdownGrace bounds how long Serve waits for unary calls to finish once
// its context ends; streams end at once.
const shutdownGrace = 5 * time.Second

// DefaultSocketDirMode is the mode of the socket directories ListenUnix
// creates: workloads running as other users must reach the socket.
const DefaultSocketDirMode os.FileMode = 0o755

// ListenUnix listens on the Workload API socket at path with package
// unixsock: the socket gets cfg.Mode (DefaultSocketMode when 0) whatever
// the umask, missing directories cfg.DirMode (DefaultSocketDirMode when
// 0), a stale socket is replaced, anything else at path is refused, and so
// is a directory on the path that another user could change unless
// cfg.SharedDir says so.
func ListenUnix(ctx context.Context, path string, cfg unixsock.Config) (net.Listener, error) {
	if cfg.Mode == 0 {
		cfg.Mode = DefaultSocketMode
	}
	if cfg.DirMode == 0 {
		cfg.DirMode = DefaultSocketDirMode
	}
	lis, err := unixsock.Listen(ctx, path, cfg)
	if err != nil {
		return nil, fmt.Errorf("workload api: %w", err)
	}
	return lis, nil
}

// Serve serves the Workload API on lis with peer-credential attestation
// until ctx ends, then stops gracefully: open streams end at once and unary
// calls get a few seconds to finish. It returns nil after a stop caused by
// ctx and closes lis in every case.
func (h *Handler) Serve(ctx context.Context, lis net.Listener) error {
	if h.cfgErr != nil {
		return errors.Join(h.cfgErr, lis.Close())
	}
	srv := grpc.NewServer(grpc.Creds(peercred.New()))
	workload.RegisterSpiffeWorkloadAPIServer(srv, served{Handler: h, stop: ctx.Done()})
	for _, register := range h.services {
		register(srv)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("workload api: serve: %w", err)
	case <-ctx.Done():
	}

	if grpcstop.Graceful(shutdownGrace, srv) {
		h.log.Warn("workload api: calls were still running after the grace period; closed them")
	}
	<-serveErr
	return nil
}

// served is the Handler as registered by Serve: its streams also end when
// Serve's context ends, so that GracefulStop does not wait for them.
type served struct {
	*Handler
	stop <-chan struct{}
}

func (s served) FetchX509SVID(_ *workload.X509SVIDRequest, stream workload.SpiffeWorkloadAPI_FetchX509SVIDServer) error {
	return s.fetchX509SVID(s.stop, stream)
}

func (s served) FetchX509Bundles(_ *workload.X509BundlesRequest, stream workload.SpiffeWorkloadAPI_FetchX509BundlesServer) error {
	return s.fetchX509Bundles(s.stop, stream)
}

func (s served) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream workload.SpiffeWorkloadAPI_FetchJWTBundlesServer) error {
	return s.fetchJWTBundles(s.stop, stream)
}
