package sdsbridged

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/grpcstop"
)

// stopGrace is how long in-flight RPCs get to finish at shutdown; SDS
// streams never finish on their own, so they are cut after it.
const stopGrace = 2 * time.Second

// serveGRPC serves srv on every listener until ctx ends or one fails. At
// the end it stops gracefully within stopGrace and closes the listeners
// (removing the Unix sockets).
func serveGRPC(ctx context.Context, srv *grpc.Server, lns []net.Listener) error {
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() {
			if err := srv.Serve(ln); err != nil {
				errc <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
				return
			}
			errc <- nil
		}()
	}
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-errc:
	}
	grpcstop.Graceful(stopGrace, srv)
	pending := len(lns)
	if failed != nil {
		pending--
	}
	for range pending {
		if err := <-errc; err != nil && failed == nil {
			failed = err
		}
	}
	return errors.Join(failed, closeAll(lns))
}

// closeAll closes listeners that may already be closed.
func closeAll(lns []net.Listener) error {
	var errs []error
	for _, ln := range lns {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
