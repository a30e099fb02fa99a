package server

import (
	"context"
	"errors"
	"slices"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// The federated bundle calls never read or write the server's own trust
// domain's bundle: that one belongs to the CA (GetBundle). Messages follow
// SPIRE's so that scripts matching them keep working.

// foreignTrustDomain parses a trust domain name (or spiffe:// ID, as
// SPIRE's CLI sends) and refuses the server's own; verb says what the
// caller tried ("creating"), as in SPIRE's messages.
func (d *deps) foreignTrustDomain(name, verb string) (spiffeid.TrustDomain, error) {
	td, err := spiffeid.TrustDomainFromString(name)
	if err != nil {
		return td, status.Errorf(codes.InvalidArgument, "trust domain argument is not valid: %q: %v", name, err)
	}
	if td == d.cfg.TrustDomain {
		return td, status.Errorf(codes.InvalidArgument, "%s a federated bundle for the server's own trust domain is not allowed", verb)
	}
	return td, nil
}

// batchStatus converts a status error (or nil) to a batch result status.
func batchStatus(err error) *types.Status {
	if err == nil {
		return okStatus()
	}
	st := status.Convert(err)
	return errStatus(st.Code(), st.Message())
}

// CountBundles counts every stored bundle, the server's own included, as
// SPIRE does.
func (s *bundleService) CountBundles(ctx context.Context, _ *bundlev1.CountBundlesRequest) (*bundlev1.CountBundlesResponse, error) {
	bs, err := s.cfg.Store.ListBundles(ctx)
	if err != nil {
		return nil, internalStatus("failed to count bundles: %w", err)
	}
	return &bundlev1.CountBundlesResponse{Count: int32(len(bs))}, nil
}

// ListFederatedBundles lists the foreign trust domains' bundles ordered by
// trust domain. The page token is the last trust domain of the previous
// page; pages also end at maxPageBytes.
func (s *bundleService) ListFederatedBundles(ctx context.Context, req *bundlev1.ListFederatedBundlesRequest) (*bundlev1.ListFederatedBundlesResponse, error) {
	if req.PageSize < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "page_size: must not be negative, got %d", req.PageSize)
	}
	bs, err := s.cfg.Store.ListBundles(ctx)
	if err != nil {
		return nil, internalStatus("failed to list bundles: %w", err)
	}
	resp := &bundlev1.ListFederatedBundlesResponse{}
	bytes, last := 0, ""
	for _, rec := range bs {
		if rec.TrustDomain == s.cfg.TrustDomain.Name() || (req.PageToken != "" && rec.TrustDomain <= req.PageToken) {
			continue
		}
		b, err := storedProtoBundle(rec, req.OutputMask)
		if err != nil {
			return nil, internalStatus("failed to convert bundle: %w", err)
		}
		size := proto.Size(b)
		if n := len(resp.Bundles); n > 0 && (req.PageSize > 0 && n == int(req.PageSize) || bytes+size > maxPageBytes) {
			resp.NextPageToken = last
			break
		}
		resp.Bundles = append(resp.Bundles, b)
		bytes += size
		last = rec.TrustDomain
	}
	return resp, nil
}

// GetFederatedBundle returns a foreign trust domain's bundle. Admin-socket
// callers may read any; an agent only the bundles of trust domains that an
// entry it is authorized for federates with (SPIRE lets any agent read
// any; its agents ask for exactly those).
func (s *bundleService) GetFederatedBundle(ctx context.Context, req *bundlev1.GetFederatedBundleRequest) (*types.Bundle, error) {
	td, err := s.foreignTrustDomain(req.TrustDomain, "getting")
	if err != nil {
		return nil, err
	}
	if c := callerFrom(ctx); !c.local {
		agent, err := requireAgent(ctx)
		if err != nil {
			return nil, err
		}
		set, err := s.authorizedFor(ctx, agent)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(set.entries, func(ce *cachedEntry) bool { return slices.Contains(ce.entry.FederatesWith, td.Name()) }) {
			return nil, status.Errorf(codes.PermissionDenied, "no entry authorized for agent %q federates with trust domain %q", agent.SPIFFEID, td.Name())
		}
	}
	rec, err := s.cfg.Store.GetBundle(ctx, td.Name())
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return nil, status.Error(codes.NotFound, "bundle not found")
	case err != nil:
		return nil, internalStatus("failed to fetch bundle: %w", err)
	}
	b, err := storedProtoBundle(rec, req.OutputMask)
	if err != nil {
		return nil, internalStatus("failed to convert bundle: %w", err)
	}
	return b, nil
}

// BatchCreateFederatedBundle stores new foreign bundles.
func (s *bundleService) BatchCreateFederatedBundle(ctx context.Context, req *bundlev1.BatchCreateFederatedBundleRequest) (*bundlev1.BatchCreateFederatedBundleResponse, error) {
	resp := &bundlev1.BatchCreateFederatedBundleResponse{}
	for _, in := range req.Bundle {
		b, err := s.writeFederatedBundle(ctx, in, "creating", func(rec *datastore.Bundle) error {
			err := s.cfg.Store.CreateBundle(ctx, rec)
			if errors.Is(err, datastore.ErrAlreadyExists) {
				return status.Error(codes.AlreadyExists, "bundle already exists")
			}
			return err
		})
		resp.Results = append(resp.Results, &bundlev1.BatchCreateFederatedBundleResponse_Result{Status: batchStatus(err), Bundle: masked(b, err, req.OutputMask)})
	}
	return resp, nil
}

// BatchSetFederatedBundle creates or replaces foreign bundles.
func (s *bundleService) BatchSetFederatedBundle(ctx context.Context, req *bundlev1.BatchSetFederatedBundleRequest) (*bundlev1.BatchSetFederatedBundleResponse, error) {
	resp := &bundlev1.BatchSetFederatedBundleResponse{}
	for _, in := range req.Bundle {
		b, err := s.writeFederatedBundle(ctx, in, "setting", func(rec *datastore.Bundle) error {
			return s.cfg.Store.SetBundle(ctx, rec)
		})
		resp.Results = append(resp.Results, &bundlev1.BatchSetFederatedBundleResponse_Result{Status: batchStatus(err), Bundle: masked(b, err, req.OutputMask)})
	}
	return resp, nil
}

// writeFederatedBundle validates in and hands its stored form to write; it
// returns the bundle written or a status error.
func (s *bundleService) writeFederatedBundle(ctx context.Context, in *types.Bundle, verb string, write func(*datastore.Bundle) error) (*spiffebundle.Bundle, error) {
	td, err := s.foreignTrustDomain(in.GetTrustDomain(), verb)
	if err != nil {
		return nil, err
	}
	b, err := bundleFromProto(in, td)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to convert bundle: %v", err)
	}
	if err := storeFederatedBundle(b, write); err != nil {
		return nil, err
	}
	return b, nil
}

// storeFederatedBundle refuses a bundle without authorities, encodes b and
// writes it, converting store errors to status errors.
func storeFederatedBundle(b *spiffebundle.Bundle, write func(*datastore.Bundle) error) error {
	if len(b.X509Authorities()) == 0 && len(b.JWTAuthorities()) == 0 {
		return status.Errorf(codes.InvalidArgument, "failed to convert bundle: the bundle of %q has no X.509 or JWT authorities", b.TrustDomain().Name())
	}
	rec, err := marshalBundle(b)
	if err != nil {
		return internalStatus("failed to convert bundle: %w", err)
	}
	if err := write(rec); err != nil {
		if _, ok := status.FromError(err); ok {
			return err
		}
		return storeStatus(err, "failed to store bundle")
	}
	return nil
}

// BatchUpdateFederatedBundle replaces the fields of stored foreign bundles
// that the input mask names (all when absent).
func (s *bundleService) BatchUpdateFederatedBundle(ctx context.Context, req *bundlev1.BatchUpdateFederatedBundleRequest) (*bundlev1.BatchUpdateFederatedBundleResponse, error) {
	resp := &bundlev1.BatchUpdateFederatedBundleResponse{}
	for _, in := range req.Bundle {
		b, err := s.updateFederatedBundle(ctx, in, req.InputMask)
		resp.Results = append(resp.Results, &bundlev1.BatchUpdateFederatedBundleResponse_Result{Status: batchStatus(err), Bundle: masked(b, err, req.OutputMask)})
	}
	return resp, nil
}

func (s *bundleService) updateFederatedBundle(ctx context.Context, in *types.Bundle, mask *types.BundleMask) (*spiffebundle.Bundle, error) {
	td, err := s.foreignTrustDomain(in.GetTrustDomain(), "updating")
	if err != nil {
		return nil, err
	}
	rec, err := s.cfg.Store.GetBundle(ctx, td.Name())
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return nil, status.Error(codes.NotFound, "bundle not found")
	case err != nil:
		return nil, internalStatus("failed to fetch bundle: %w", err)
	}
	cur, err := spiffebundle.Parse(td, rec.Data)
	if err != nil {
		return nil, internalStatus("parse stored bundle of %q: %w", td.Name(), err)
	}
	if err := mergeBundle(cur, in, mask); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "failed to convert bundle: %v", err)
	}
	err = storeFederatedBundle(cur, func(rec *datastore.Bundle) error { return s.cfg.Store.SetBundle(ctx, rec) })
	if err != nil {
		return nil, err
	}
	return cur, nil
}

// masked returns b in API form with the fields of m, nil after a failure.
func masked(b *spiffebundle.Bundle, err error, m *types.BundleMask) *types.Bundle {
	if err != nil || b == nil {
		return nil
	}
	out, err := protoBundle(b, m)
	if err != nil {
		return nil
	}
	return out
}

// BatchDeleteFederatedBundle deletes foreign bundles; the mode says what
// happens to entries that federate with them (SPIRE's RESTRICT, DISSOCIATE
// and DELETE).
func (s *bundleService) BatchDeleteFederatedBundle(ctx context.Context, req *bundlev1.BatchDeleteFederatedBundleRequest) (*bundlev1.BatchDeleteFederatedBundleResponse, error) {
	var mode datastore.BundleDeleteMode
	switch req.Mode {
	case bundlev1.BatchDeleteFederatedBundleRequest_RESTRICT:
		mode = datastore.DeleteRestrict
	case bundlev1.BatchDeleteFederatedBundleRequest_DISSOCIATE:
		mode = datastore.DeleteDissociate
	case bundlev1.BatchDeleteFederatedBundleRequest_DELETE:
		mode = datastore.DeleteEntries
	default:
		return nil, status.Errorf(codes.InvalidArgument, "failed to parse deletion mode: unhandled delete mode %q", req.Mode)
	}
	// Dissociate and delete change entries: agents must see it at once.
	defer s.cache.invalidate()
	resp := &bundlev1.BatchDeleteFederatedBundleResponse{}
	for _, name := range req.TrustDomains {
		resp.Results = append(resp.Results, &bundlev1.BatchDeleteFederatedBundleResponse_Result{
			TrustDomain: name, Status: batchStatus(s.deleteFederatedBundle(ctx, name, mode)),
		})
	}
	return resp, nil
}

func (s *bundleService) deleteFederatedBundle(ctx context.Context, name string, mode datastore.BundleDeleteMode) error {
	td, err := spiffeid.TrustDomainFromString(name)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "trust domain argument is not valid: %q: %v", name, err)
	}
	if td == s.cfg.TrustDomain {
		return status.Error(codes.InvalidArgument, "removing the bundle for the server trust domain is not allowed")
	}
	err = s.cfg.Store.DeleteBundle(ctx, td.Name(), mode)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, datastore.ErrNotFound):
		return status.Error(codes.NotFound, "bundle not found")
	}
	return storeStatus(err, "failed to delete federated bundle")
}
