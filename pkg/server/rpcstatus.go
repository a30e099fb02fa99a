package server

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// rpcStatus settles the status every RPC ends with, once, at the API
// edge (the innermost interceptor around the handlers):
//
//   - a call whose caller went away (cancelled, or its deadline passed)
//     ends with Canceled or DeadlineExceeded, whatever failed because of
//     it: a store read interrupted by the context ("interrupted"), or
//     gRPC's own SetHeader, which says Internal ("transport: SendHeader
//     called multiple times") on a stream the client has already reset.
//     Such calls are load, not server faults; counted as Internal they
//     hid the real errors (load finding: 11,766 "Internal" entry syncs
//     of agents that had given up);
//   - any other Internal status is logged at ERROR with the method and
//     message, so that a server failure is never only a count.
type rpcStatus struct {
	log *slog.Logger
}

func (r rpcStatus) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	return resp, r.settle(ctx, info.FullMethod, err)
}

func (r rpcStatus) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return r.settle(ss.Context(), info.FullMethod, handler(srv, ss))
}

// settle returns the status the call ends with for the handler's err.
func (r rpcStatus) settle(ctx context.Context, method string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		st := status.FromContextError(ctxErr)
		if status.Code(err) != st.Code() {
			r.log.Debug("RPC ended after its caller went away", "method", method, "code", st.Code(), "error", err)
		}
		return st.Err()
	}
	if status.Code(err) == codes.Internal {
		r.log.Error("RPC failed", "method", method, "error", err)
	}
	return err
}
