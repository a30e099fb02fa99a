package wlclient

import (
	"context"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"

	"github.com/svidkit/svidkit/pkg/backoff"
)

// Backoff bounds the delays between reconnect attempts: Min first, doubling
// up to Max. It is a go-spiffe workloadapi.BackoffStrategy, replacing
// go-spiffe's linear one (1s steps up to 30s) so that a Workload API that
// comes back is noticed within Max.
type Backoff struct {
	Min, Max time.Duration
}

// NewBackoff implements workloadapi.BackoffStrategy.
func (b Backoff) NewBackoff() workloadapi.Backoff { return backoff.New(b.Min, b.Max) }

// New returns a go-spiffe Workload API client for addr. Its watches retry
// with bo, and gRPC's own connection backoff is capped like it (with gRPC's
// usual 20% jitter), so that a returning agent is picked up quickly even
// without the socket watch (tcp:// addresses). dialOpts are added to the
// connection's.
func New(ctx context.Context, addr string, bo Backoff, dialOpts ...grpc.DialOption) (*workloadapi.Client, error) {
	dialOpts = append(dialOpts, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: grpcbackoff.Config{
			BaseDelay:  bo.Min,
			Multiplier: 2,
			Jitter:     0.2,
			MaxDelay:   bo.Max,
		},
		MinConnectTimeout: 5 * time.Second,
	}))
	c, err := workloadapi.New(ctx,
		workloadapi.WithAddr(addr),
		workloadapi.WithBackoffStrategy(bo),
		workloadapi.WithDialOptions(dialOpts...),
	)
	if err != nil {
		return nil, fmt.Errorf("workload API client for %s: %w", addr, err)
	}
	return c, nil
}

var _ workloadapi.BackoffStrategy = Backoff{}
