package workloadapi

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// streamSpec describes one streaming method.
type streamSpec struct {
	method string
	kind   respKind
	// build turns an Update into the response; an error must be a status.
	build func(*Update) (proto.Message, error)
	// dedup skips responses equal to the last one sent.
	dedup bool
}

// serveStream runs a streaming call: check the header, attest, subscribe,
// then send a response for the first Update and every change. It returns
// nil when the client goes away or stop is closed (the server is stopping);
// a nil stop never fires.
func (h *Handler) serveStream(stop <-chan struct{}, ss grpc.ServerStream, spec streamSpec) error {
	ctx := ss.Context()
	if err := h.checkHeader(ctx); err != nil {
		return err
	}
	c, err := h.attest(ctx, spec.method)
	if err != nil {
		return err
	}
	sub, err := h.mgr.Subscribe(ctx, c.sels)
	if err != nil {
		c.log().Error("workload api: subscribe failed", "error", err)
		return status.Error(codes.Unavailable, "identity cache unavailable")
	}
	defer sub.Finish()

	active := h.metrics.activeStreams.WithLabelValues(spec.method)
	active.Inc()
	defer active.Dec()
	sent := h.metrics.updatesSent.WithLabelValues(spec.method)

	var last proto.Message
	for {
		select {
		case u, ok := <-sub.Updates():
			if !ok {
				return status.Error(codes.Unavailable, "identity subscription ended")
			}
			resp, err := h.resps.get(spec.kind, u, spec.build)
			if err != nil {
				if status.Code(err) != codes.PermissionDenied {
					c.log().Error("workload api: build response", "error", err)
				}
				return err
			}
			if spec.dedup && last != nil && proto.Equal(last, resp) {
				continue
			}
			if err := ss.SendMsg(resp); err != nil {
				return streamEnded(ctx, err)
			}
			sent.Inc()
			last = resp
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		}
	}
}

// streamEnded maps a send failure caused by the client leaving to a clean
// end of the call.
func streamEnded(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
