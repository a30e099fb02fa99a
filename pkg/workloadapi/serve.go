package workloadapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/peercred"
)

// DefaultSocketMode is the mode ListenUnix applies when given 0: any local
// workload must be able to connect, as with SPIRE's public socket; callers
// are told apart by attestation, not by file permissions.
const DefaultSocketMode os.FileMode = 0o777

// shutdownGrace bounds how long Serve waits for unary calls to finish once
// its context ends; streams end at once.
const shutdownGrace = 5 * time.Second

// ListenUnix listens on a Unix socket at path: it creates the parent
// directory (0755) if missing, removes a stale socket left by an earlier
// run, and sets the socket's mode explicitly (DefaultSocketMode when mode is
// 0), independent of the umask. It refuses to remove anything but a socket.
func ListenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("workload api: listen: socket path is empty")
	}
	if mode == 0 {
		mode = DefaultSocketMode
	}
	if err := makeSocketDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("workload api: create socket directory: %w", err)
	}
	switch fi, err := os.Lstat(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("workload api: stat socket %q: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("workload api: %q exists and is not a socket", path)
	default:
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("workload api: remove stale socket %q: %w", path, err)
		}
	}
	lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("workload api: listen on %q: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return nil, errors.Join(fmt.Errorf("workload api: chmod socket %q: %w", path, err), lis.Close())
	}
	return lis, nil
}

// makeSocketDir creates dir and its missing parents with mode 0755
// exactly, whatever the umask, so workloads running as other users can
// reach the socket. Directories that exist (a DaemonSet's hostPath mount)
// keep their mode.
func makeSocketDir(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range missing {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	return nil
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

	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(shutdownGrace)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		h.log.Warn("workload api: calls still running after grace period; closing them")
		srv.Stop()
		<-stopped
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
