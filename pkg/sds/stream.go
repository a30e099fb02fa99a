package sds

import (
	"context"
	"errors"
	"io"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// receiver is the receiving half of a gRPC stream.
type receiver[Req any] interface {
	Recv() (*Req, error)
}

// receive reads requests from stream into the returned channel until the
// stream fails; the error (nil for a clean end by Envoy) arrives on errc.
// The goroutine belongs to the stream handler: it ends when Recv fails,
// which gRPC guarantees once the handler has returned.
func receive[Req any](ctx context.Context, stream receiver[Req]) (reqs <-chan *Req, errc <-chan error) {
	rc := make(chan *Req)
	ec := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
					err = nil
				}
				ec <- err
				return
			}
			select {
			case rc <- req:
			case <-ctx.Done():
				ec <- nil
				return
			}
		}
	}()
	return rc, ec
}

// nonces hands out the nonces of one stream.
type nonces struct{ n uint64 }

func (n *nonces) next() string {
	n.n++
	return strconv.FormatUint(n.n, 10)
}

// watch starts the Source's watch for the stream's workload.
func (h *Handler) watch(ctx context.Context) (Watch, error) {
	if h.src == nil {
		return nil, status.Error(codes.Unavailable, "sds: no identity source configured")
	}
	w, err := h.src.Watch(ctx)
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return nil, err
		}
		return nil, status.Errorf(codes.PermissionDenied, "sds: watch workload identities: %v", err)
	}
	return w, nil
}

// errWatchEnded ends a stream whose Source stopped watching; Envoy retries.
var errWatchEnded = status.Error(codes.Unavailable, "sds: identity watch ended")

// checkType rejects requests for anything but secrets; an empty type URL
// is accepted (some clients omit it on a dedicated SDS stream).
func checkType(typeURL string) error {
	if typeURL != "" && typeURL != secretTypeURL {
		return status.Errorf(codes.InvalidArgument, "sds: type_url %q: only %s is served", typeURL, secretTypeURL)
	}
	return nil
}
