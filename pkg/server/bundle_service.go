package server

import (
	"context"

	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// bundleService implements spire.api.server.bundle.v1.Bundle: the trust
// domain's own bundle (GetBundle) and the federated bundles of foreign
// trust domains (bundle_federated.go).
type bundleService struct {
	bundlev1.UnimplementedBundleServer
	*deps
}

// GetBundle returns the trust domain's current bundle.
func (s *bundleService) GetBundle(_ context.Context, req *bundlev1.GetBundleRequest) (*types.Bundle, error) {
	b := s.cfg.Authority.Bundle()
	if b == nil {
		return nil, status.Error(codes.NotFound, "bundle not found")
	}
	out, err := protoBundle(b, req.GetOutputMask())
	if err != nil {
		return nil, internalStatus("convert bundle: %w", err)
	}
	return out, nil
}
