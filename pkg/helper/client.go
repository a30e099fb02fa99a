package helper

import (
	"context"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/wlclient"
)

// newClient returns a Workload API client for the helper's address, with
// the reconnect backoff and small buffers.
func (h *Helper) newClient(ctx context.Context) (*workloadapi.Client, error) {
	return wlclient.New(ctx, h.addr, reconnectBackoff(),
		grpc.WithReadBufferSize(readBufferSize), grpc.WithWriteBufferSize(writeBufferSize))
}

// gRPC's connection buffers. Its defaults (32 KiB each way) suit
// high-throughput streams; the helper receives one SVID message (a few KiB)
// per rotation, so small buffers keep resident memory down at no cost.
const (
	readBufferSize  = 4 << 10
	writeBufferSize = 4 << 10
)
