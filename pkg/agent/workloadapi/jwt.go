package workloadapi

import (
	"context"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// FetchJWTSVID returns JWT-SVIDs for the requested audience: one per
// identity of the caller, or only the one for the requested SPIFFE ID.
func (h *Handler) FetchJWTSVID(ctx context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	if err := h.checkHeader(ctx); err != nil {
		return nil, err
	}
	if len(req.GetAudience()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "audience must be specified")
	}
	if err := CheckAudience(req.GetAudience()); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var want spiffeid.ID
	if s := req.GetSpiffeId(); s != "" {
		id, err := spiffeid.FromString(s)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "invalid spiffe_id %q: %v", s, err)
		}
		want = id
	}
	c, err := h.attest(ctx, "FetchJWTSVID")
	if err != nil {
		return nil, err
	}
	svids, err := h.mgr.FetchJWTSVIDs(ctx, c.sels, req.GetAudience(), want)
	if err != nil {
		c.log().Error("workload api: fetch JWT-SVIDs", "error", err)
		return nil, status.Error(codes.Unavailable, "could not fetch JWT-SVID")
	}
	if len(svids) == 0 {
		return nil, errNoIdentity
	}
	resp := &workload.JWTSVIDResponse{Svids: make([]*workload.JWTSVID, 0, len(svids))}
	for _, s := range svids {
		resp.Svids = append(resp.Svids, &workload.JWTSVID{
			SpiffeId: s.SPIFFEID.String(),
			Svid:     s.Token,
			Hint:     s.Hint,
		})
	}
	return resp, nil
}

// FetchJWTBundles streams the JWT bundles the caller trusts as JWKS
// documents keyed by trust domain, sending only when they change.
func (h *Handler) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream workload.SpiffeWorkloadAPI_FetchJWTBundlesServer) error {
	return h.fetchJWTBundles(nil, stream)
}

func (h *Handler) fetchJWTBundles(stop <-chan struct{}, stream workload.SpiffeWorkloadAPI_FetchJWTBundlesServer) error {
	return h.serveStream(stop, stream, streamSpec{method: "FetchJWTBundles", kind: kindJWTBundles, build: buildJWTBundlesResponse, dedup: true})
}

func buildJWTBundlesResponse(u *Update) (proto.Message, error) {
	if len(u.Identities) == 0 {
		return nil, errNoIdentity
	}
	resp := &workload.JWTBundlesResponse{Bundles: make(map[string][]byte, 1+len(u.FederatedBundles))}
	if u.Bundle != nil {
		jwks, err := marshalJWKS(u.Bundle.JWTAuthorities())
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "marshal bundle of %s: %v", u.Bundle.TrustDomain(), err)
		}
		resp.Bundles[u.Bundle.TrustDomain().IDString()] = jwks
	}
	for td, b := range u.FederatedBundles {
		jwks, err := marshalJWKS(b.JWTAuthorities())
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "marshal bundle of %s: %v", td, err)
		}
		resp.Bundles[td.IDString()] = jwks
	}
	return resp, nil
}

// ValidateJWTSVID validates a JWT-SVID against the bundles the caller
// trusts and the given audience, and returns its SPIFFE ID and claims.
func (h *Handler) ValidateJWTSVID(ctx context.Context, req *workload.ValidateJWTSVIDRequest) (*workload.ValidateJWTSVIDResponse, error) {
	if err := h.checkHeader(ctx); err != nil {
		return nil, err
	}
	if req.GetAudience() == "" {
		return nil, status.Error(codes.InvalidArgument, "audience must be specified")
	}
	if req.GetSvid() == "" {
		return nil, status.Error(codes.InvalidArgument, "svid must be specified")
	}
	c, err := h.attest(ctx, "ValidateJWTSVID")
	if err != nil {
		return nil, err
	}
	u, err := h.currentUpdate(ctx, c)
	if err != nil {
		c.log().Error("workload api: read bundles", "error", err)
		return nil, status.Error(codes.Unavailable, "identity cache unavailable")
	}
	svid, err := jwtsvid.ParseAndValidate(req.GetSvid(), jwtBundles(u), []string{req.GetAudience()})
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	claims, err := structpb.NewStruct(svid.Claims)
	if err != nil {
		return nil, status.Error(codes.Internal, fmt.Sprintf("convert claims: %v", err))
	}
	return &workload.ValidateJWTSVIDResponse{SpiffeId: svid.ID.String(), Claims: claims}, nil
}

// jwtBundles is the set of JWT bundles a workload trusts.
func jwtBundles(u *Update) *jwtbundle.Set {
	set := jwtbundle.NewSet()
	if u.Bundle != nil {
		set.Add(u.Bundle.JWTBundle())
	}
	for _, b := range u.FederatedBundles {
		set.Add(b.JWTBundle())
	}
	return set
}
