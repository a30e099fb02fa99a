package server

import (
	"context"
	"crypto/x509"
	"errors"
	"maps"
	"slices"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// GetFederatedBundle returns the stored bundle of a foreign trust domain,
// as SPIRE does: agents fetch the bundles their entries federate with.
//
// The minimum the push of bundle changes to agents needs (issue 12); the
// bundle/v1 federated API proper replaces this file.
func (s *bundleService) GetFederatedBundle(ctx context.Context, req *bundlev1.GetFederatedBundleRequest) (*types.Bundle, error) {
	td, err := spiffeid.TrustDomainFromString(req.GetTrustDomain())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "trust_domain: %v", err)
	}
	if td == s.cfg.TrustDomain {
		return nil, status.Error(codes.InvalidArgument, "trust_domain: getting a federated bundle for the server's own trust domain is not allowed")
	}
	rec, err := s.cfg.Store.GetBundle(ctx, td.Name())
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "bundle of %q not found", td.Name())
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "get bundle of %q: %v", td.Name(), err)
	}
	b, err := spiffebundle.Parse(td, rec.Data)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "parse stored bundle of %q: %v", td.Name(), err)
	}
	return federatedBundleProto(b, req.GetOutputMask())
}

// federatedBundleProto converts b to the API form, keeping the fields m
// asks for (all when m is nil).
func federatedBundleProto(b *spiffebundle.Bundle, m *types.BundleMask) (*types.Bundle, error) {
	all := m == nil
	out := &types.Bundle{TrustDomain: b.TrustDomain().Name()}
	if all || m.X509Authorities {
		for _, c := range b.X509Authorities() {
			out.X509Authorities = append(out.X509Authorities, &types.X509Certificate{Asn1: c.Raw})
		}
	}
	if all || m.JwtAuthorities {
		keys := b.JWTAuthorities()
		ids := slices.Sorted(maps.Keys(keys))
		for _, id := range ids {
			der, err := x509.MarshalPKIXPublicKey(keys[id])
			if err != nil {
				return nil, status.Errorf(codes.Internal, "marshal JWT authority %q: %v", id, err)
			}
			out.JwtAuthorities = append(out.JwtAuthorities, &types.JWTKey{PublicKey: der, KeyId: id})
		}
	}
	if all || m.RefreshHint {
		if hint, ok := b.RefreshHint(); ok {
			out.RefreshHint = int64(hint.Seconds())
		}
	}
	if all || m.SequenceNumber {
		if seq, ok := b.SequenceNumber(); ok {
			out.SequenceNumber = seq
		}
	}
	return out, nil
}
