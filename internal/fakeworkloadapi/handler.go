package fakeworkloadapi

import (
	"context"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

// jwtTTL is the lifetime of the JWT-SVIDs the fake mints.
const jwtTTL = time.Hour

// errNoIdentity is SPIRE's answer to a workload with no registration entry.
var errNoIdentity = status.Error(codes.PermissionDenied, "no identity issued")

// handler implements the Workload API over the Server's state.
type handler struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	s *Server
}

// FetchX509SVID sends the current SVIDs and each change until the stream
// ends or an error is injected.
func (h *handler) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	select {
	case h.s.calls <- struct{}{}:
	default:
	}
	for {
		st := h.s.state()
		if err := st.errs[FetchX509SVID]; err != nil {
			return err
		}
		if len(st.svids) == 0 {
			return errNoIdentity
		}
		if err := stream.Send(&workload.X509SVIDResponse{Svids: st.svids, FederatedBundles: st.federated}); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-st.changed:
		}
	}
}

// FetchJWTSVID mints a JWT-SVID for the audience per X.509-SVID set.
func (h *handler) FetchJWTSVID(ctx context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	st := h.s.state()
	if err := st.errs[FetchJWTSVID]; err != nil {
		return nil, err
	}
	if st.jwtIssuer == nil {
		return nil, status.Error(codes.Unimplemented, "fakeworkloadapi: no JWT issuer set")
	}
	if len(st.svids) == 0 {
		return nil, errNoIdentity
	}
	resp := &workload.JWTSVIDResponse{}
	for _, x := range st.svids {
		id, err := spiffeid.FromString(x.SpiffeId)
		if err != nil {
			return nil, status.Error(codes.Internal, fmt.Sprintf("fakeworkloadapi: SVID ID %q: %v", x.SpiffeId, err))
		}
		tok, err := st.jwtIssuer.SignJWTSVID(ctx, ca.JWTSVIDParams{SPIFFEID: id, Audience: req.Audience, TTL: jwtTTL})
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		resp.Svids = append(resp.Svids, &workload.JWTSVID{SpiffeId: x.SpiffeId, Svid: tok, Hint: x.Hint})
	}
	return resp, nil
}

// FetchJWTBundles sends the current JWT bundles and each change until the
// stream ends or an error is injected.
func (h *handler) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream grpc.ServerStreamingServer[workload.JWTBundlesResponse]) error {
	for {
		st := h.s.state()
		if err := st.errs[FetchJWTBundles]; err != nil {
			return err
		}
		if len(st.jwtBundles) == 0 {
			return errNoIdentity
		}
		if err := stream.Send(&workload.JWTBundlesResponse{Bundles: st.jwtBundles}); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-st.changed:
		}
	}
}
