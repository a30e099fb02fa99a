// Package grpcstop stops gRPC servers gracefully within a grace period,
// as every svidkit daemon does at shutdown: in-flight calls get the grace
// period to finish, then the connections are closed.
package grpcstop

import (
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// Graceful stops every server at once: each stops accepting and waits for
// its in-flight RPCs, and after grace its connections are closed, ending
// the RPCs still running (streams that never end on their own). It returns
// once every server has stopped and reports whether any had to be forced.
func Graceful(grace time.Duration, servers ...*grpc.Server) (forced bool) {
	var (
		wg  sync.WaitGroup
		any atomic.Bool
	)
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if stop(s, grace) {
				any.Store(true)
			}
		}()
	}
	wg.Wait()
	return any.Load()
}

// stop stops s gracefully within grace and reports whether it was forced.
func stop(s *grpc.Server, grace time.Duration) bool {
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
		s.Stop()
		<-done
		return true
	}
}
