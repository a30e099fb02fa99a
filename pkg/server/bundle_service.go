package server

import (
	"context"
	"crypto/x509"
	"slices"

	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// bundleService implements spire.api.server.bundle.v1.Bundle (GetBundle).
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
	m := req.GetOutputMask()
	all := m == nil
	out := &types.Bundle{TrustDomain: b.TrustDomain().Name()}
	if all || m.X509Authorities {
		for _, c := range b.X509Authorities() {
			out.X509Authorities = append(out.X509Authorities, &types.X509Certificate{Asn1: c.Raw})
		}
	}
	if all || m.JwtAuthorities {
		keys := b.JWTAuthorities()
		ids := make([]string, 0, len(keys))
		for id := range keys {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			der, err := x509.MarshalPKIXPublicKey(keys[id])
			if err != nil {
				return nil, status.Errorf(codes.Internal, "marshal JWT authority %q: %v", id, err)
			}
			// The SPIFFE bundle form carries no key expiry; zero means
			// "does not expire" in the API.
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
