package helper

import (
	"context"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
)

// newClient returns a Workload API client for the helper's address. gRPC's
// own reconnect backoff is capped like ours so that a returning agent is
// picked up quickly even without the socket watch (tcp:// addresses).
func (h *Helper) newClient(ctx context.Context) (*workloadapi.Client, error) {
	c, err := workloadapi.New(ctx,
		workloadapi.WithAddr(h.addr),
		workloadapi.WithBackoffStrategy(backoffStrategy{}),
		workloadapi.WithDialOptions(grpc.WithReadBufferSize(readBufferSize), grpc.WithWriteBufferSize(writeBufferSize), grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: grpcbackoff.Config{
				BaseDelay:  minBackoff,
				Multiplier: 2,
				Jitter:     0.2,
				MaxDelay:   maxBackoff,
			},
			MinConnectTimeout: 5 * time.Second,
		})),
	)
	if err != nil {
		return nil, fmt.Errorf("workload API client for %s: %w", h.addr, err)
	}
	return c, nil
}

// gRPC's connection buffers. Its defaults (32 KiB each way) suit
// high-throughput streams; the helper receives one SVID message (a few KiB)
// per rotation, so small buffers keep resident memory down at no cost.
const (
	readBufferSize  = 4 << 10
	writeBufferSize = 4 << 10
)
