package server

import (
	"context"
	"errors"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	trustdomainv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/trustdomain/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// trustDomainService implements spire.api.server.trustdomain.v1.TrustDomain:
// the federation relationships created through the API (stored), and
// RefreshBundle. It is served on the admin socket only, as SPIRE serves it
// to local and admin callers. Messages follow SPIRE's.
type trustDomainService struct {
	trustdomainv1.UnimplementedTrustDomainServer
	*deps
}

// relationshipsChanged tells the federation controller, if any, that the
// stored relationships changed.
func (s *trustDomainService) relationshipsChanged() {
	if s.cfg.Federation != nil {
		s.cfg.Federation.RelationshipsChanged()
	}
}

// ListFederationRelationships lists the stored relationships ordered by
// trust domain; the page token is the last trust domain of the previous
// page. Relationships of the configuration are not listed (as in SPIRE).
func (s *trustDomainService) ListFederationRelationships(ctx context.Context, req *trustdomainv1.ListFederationRelationshipsRequest) (*trustdomainv1.ListFederationRelationshipsResponse, error) {
	if req.PageSize < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "page_size: must not be negative, got %d", req.PageSize)
	}
	rs, err := s.cfg.Store.ListFederationRelationships(ctx)
	if err != nil {
		return nil, internalStatus("failed to list federation relationships: %w", err)
	}
	resp := &trustdomainv1.ListFederationRelationshipsResponse{}
	bytes, last := 0, ""
	for _, r := range rs {
		if req.PageToken != "" && r.TrustDomain <= req.PageToken {
			continue
		}
		pr, err := protoRelationship(r, req.OutputMask)
		if err != nil {
			return nil, internalStatus("failed to convert datastore response: %w", err)
		}
		size := proto.Size(pr)
		if n := len(resp.FederationRelationships); n > 0 && (req.PageSize > 0 && n == int(req.PageSize) || bytes+size > maxPageBytes) {
			resp.NextPageToken = last
			break
		}
		resp.FederationRelationships = append(resp.FederationRelationships, pr)
		bytes += size
		last = r.TrustDomain
	}
	return resp, nil
}

// GetFederationRelationship returns one stored relationship.
func (s *trustDomainService) GetFederationRelationship(ctx context.Context, req *trustdomainv1.GetFederationRelationshipRequest) (*types.FederationRelationship, error) {
	td, err := spiffeid.TrustDomainFromString(req.TrustDomain)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to parse trust domain: %q: %v", req.TrustDomain, err)
	}
	r, err := s.cfg.Store.GetFederationRelationship(ctx, td.Name())
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return nil, status.Error(codes.NotFound, "federation relationship does not exist")
	case err != nil:
		return nil, internalStatus("failed to fetch federation relationship: %w", err)
	}
	pr, err := protoRelationship(r, req.OutputMask)
	if err != nil {
		return nil, internalStatus("failed to convert datastore response: %w", err)
	}
	return pr, nil
}

// BatchCreateFederationRelationship stores new relationships.
func (s *trustDomainService) BatchCreateFederationRelationship(ctx context.Context, req *trustdomainv1.BatchCreateFederationRelationshipRequest) (*trustdomainv1.BatchCreateFederationRelationshipResponse, error) {
	resp := &trustdomainv1.BatchCreateFederationRelationshipResponse{}
	changed := false
	for _, in := range req.FederationRelationships {
		r, err := s.createRelationship(ctx, in)
		res := &trustdomainv1.BatchCreateFederationRelationshipResponse_Result{Status: batchStatus(err)}
		if err == nil {
			changed = true
			res.FederationRelationship = s.echo(r, req.OutputMask)
		}
		resp.Results = append(resp.Results, res)
	}
	if changed {
		s.relationshipsChanged()
	}
	return resp, nil
}

func (s *trustDomainService) createRelationship(ctx context.Context, in *types.FederationRelationship) (*datastore.FederationRelationship, error) {
	r, err := relationshipFromProto(in)
	if err == nil {
		err = r.Validate()
	}
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to convert federation relationship: %v", err)
	}
	if r.TrustDomain == s.cfg.TrustDomain.Name() {
		return nil, status.Error(codes.InvalidArgument, "unable to create federation relationship for server trust domain")
	}
	created, err := s.cfg.Store.CreateFederationRelationship(ctx, r)
	switch {
	case errors.Is(err, datastore.ErrAlreadyExists):
		return nil, status.Errorf(codes.AlreadyExists, "federation relationship with %q already exists", r.TrustDomain)
	case err != nil:
		return nil, storeStatus(err, "failed to create federation relationship")
	}
	s.warnWithoutBundle(created)
	return created, nil
}

// echo returns the written relationship for a batch result. The write has
// succeeded, so a stored bundle that cannot be converted is logged and the
// relationship echoed without it rather than reported as a failure.
func (s *trustDomainService) echo(r *datastore.FederationRelationship, m *types.FederationRelationshipMask) *types.FederationRelationship {
	out, err := protoRelationship(r, m)
	if err != nil {
		s.cfg.Log.Warn("cannot convert a stored federation relationship", "trust_domain", r.TrustDomain, "error", err)
		r.TrustDomainBundle = nil
		out, _ = protoRelationship(r, m)
	}
	return out
}

// warnWithoutBundle logs, as SPIRE does, an https_spiffe relationship that
// cannot be authenticated yet: no bundle of its trust domain is stored
// (provide it with `bundle set` or trust_domain_bundle).
func (s *trustDomainService) warnWithoutBundle(r *datastore.FederationRelationship) {
	if r.BundleEndpointProfile == datastore.ProfileHTTPSSPIFFE && r.TrustDomainBundle == nil {
		s.cfg.Log.Warn("bundle not found for the endpoint SPIFFE ID trust domain; set it with `bundle set` before the bundle can be fetched",
			"trust_domain", r.TrustDomain, "endpoint_spiffe_id", r.EndpointSPIFFEID)
	}
}

// BatchUpdateFederationRelationship replaces the fields of stored
// relationships that the input mask names (all when absent).
func (s *trustDomainService) BatchUpdateFederationRelationship(ctx context.Context, req *trustdomainv1.BatchUpdateFederationRelationshipRequest) (*trustdomainv1.BatchUpdateFederationRelationshipResponse, error) {
	resp := &trustdomainv1.BatchUpdateFederationRelationshipResponse{}
	changed := false
	for _, in := range req.FederationRelationships {
		r, err := s.updateRelationship(ctx, in, req.InputMask)
		res := &trustdomainv1.BatchUpdateFederationRelationshipResponse_Result{Status: batchStatus(err)}
		if err == nil {
			changed = true
			res.FederationRelationship = s.echo(r, req.OutputMask)
		}
		resp.Results = append(resp.Results, res)
	}
	if changed {
		s.relationshipsChanged()
	}
	return resp, nil
}

func (s *trustDomainService) updateRelationship(ctx context.Context, in *types.FederationRelationship, mask *types.FederationRelationshipMask) (*datastore.FederationRelationship, error) {
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "failed to convert federation relationship: is required")
	}
	td, err := spiffeid.TrustDomainFromString(in.TrustDomain)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to convert federation relationship: trust_domain %q: %v", in.TrustDomain, err)
	}
	cur, err := s.cfg.Store.GetFederationRelationship(ctx, td.Name())
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return nil, status.Error(codes.NotFound, "federation relationship not found")
	case err != nil:
		return nil, internalStatus("failed to fetch federation relationship: %w", err)
	}
	err = mergeRelationship(cur, in, mask)
	if err == nil {
		err = cur.Validate()
	}
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to convert federation relationship: %v", err)
	}
	updated, err := s.cfg.Store.UpdateFederationRelationship(ctx, cur)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return nil, status.Error(codes.NotFound, "federation relationship not found")
	case err != nil:
		return nil, storeStatus(err, "failed to update federation relationship")
	}
	s.warnWithoutBundle(updated)
	return updated, nil
}

// BatchDeleteFederationRelationship deletes stored relationships; the
// trust domains' bundles stay (as in SPIRE).
func (s *trustDomainService) BatchDeleteFederationRelationship(ctx context.Context, req *trustdomainv1.BatchDeleteFederationRelationshipRequest) (*trustdomainv1.BatchDeleteFederationRelationshipResponse, error) {
	resp := &trustdomainv1.BatchDeleteFederationRelationshipResponse{}
	changed := false
	for _, name := range req.TrustDomains {
		res := &trustdomainv1.BatchDeleteFederationRelationshipResponse_Result{TrustDomain: name}
		err := s.deleteRelationship(ctx, name)
		res.Status = batchStatus(err)
		changed = changed || err == nil
		resp.Results = append(resp.Results, res)
	}
	if changed {
		s.relationshipsChanged()
	}
	return resp, nil
}

func (s *trustDomainService) deleteRelationship(ctx context.Context, name string) error {
	if name == "" {
		return status.Error(codes.InvalidArgument, "missing trust domain")
	}
	td, err := spiffeid.TrustDomainFromString(name)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "failed to parse trust domain: %q: %v", name, err)
	}
	err = s.cfg.Store.DeleteFederationRelationship(ctx, td.Name())
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return status.Error(codes.NotFound, "federation relationship not found")
	case err != nil:
		return storeStatus(err, "failed to delete federation relationship")
	}
	return nil
}

// RefreshBundle fetches a foreign trust domain's bundle now through the
// federation controller.
func (s *trustDomainService) RefreshBundle(ctx context.Context, req *trustdomainv1.RefreshBundleRequest) (*emptypb.Empty, error) {
	td, err := spiffeid.TrustDomainFromString(req.GetTrustDomain())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to parse trust domain: %q: %v", req.GetTrustDomain(), err)
	}
	if s.cfg.Federation == nil {
		// Without a controller only stored relationships exist.
		_, err := s.cfg.Store.GetFederationRelationship(ctx, td.Name())
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			return nil, status.Errorf(codes.NotFound, "no relationship with trust domain %q", td.Name())
		case err != nil:
			return nil, internalStatus("failed to fetch federation relationship: %w", err)
		}
		return nil, status.Errorf(codes.FailedPrecondition,
			"cannot refresh the bundle of %q: this server runs no federation bundle fetcher", td.Name())
	}
	err = s.cfg.Federation.RefreshBundle(ctx, td)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "no relationship with trust domain %q", td.Name())
	case err != nil:
		return nil, internalStatus("failed to refresh bundle: %w", err)
	}
	return &emptypb.Empty{}, nil
}
