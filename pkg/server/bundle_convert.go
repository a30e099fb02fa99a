package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// protoBundle converts a bundle to its API form with the fields of m (all
// when nil). JWT keys are ordered by key ID; the SPIFFE bundle form
// carries no key expiry, so expires_at is zero ("does not expire").
func protoBundle(b *spiffebundle.Bundle, m *types.BundleMask) (*types.Bundle, error) {
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
				return nil, fmt.Errorf("marshal JWT authority %q: %w", id, err)
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

// storedProtoBundle parses a stored bundle and converts it to its API form.
func storedProtoBundle(rec *datastore.Bundle, m *types.BundleMask) (*types.Bundle, error) {
	td, err := spiffeid.TrustDomainFromString(rec.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("stored bundle of %q: %w", rec.TrustDomain, err)
	}
	b, err := spiffebundle.Parse(td, rec.Data)
	if err != nil {
		return nil, fmt.Errorf("parse stored bundle of %q: %w", rec.TrustDomain, err)
	}
	return protoBundle(b, m)
}

// bundleFromProto validates an API bundle of trust domain td and converts
// it to a SPIFFE bundle. Errors name the field.
func bundleFromProto(in *types.Bundle, td spiffeid.TrustDomain) (*spiffebundle.Bundle, error) {
	b := spiffebundle.New(td)
	if err := setX509Authorities(b, in.GetX509Authorities()); err != nil {
		return nil, err
	}
	if err := setJWTAuthorities(b, in.GetJwtAuthorities()); err != nil {
		return nil, err
	}
	if err := setRefreshHint(b, in.GetRefreshHint()); err != nil {
		return nil, err
	}
	b.SetSequenceNumber(in.GetSequenceNumber())
	return b, nil
}

// setX509Authorities replaces b's X.509 authorities with the parsed in.
func setX509Authorities(b *spiffebundle.Bundle, in []*types.X509Certificate) error {
	certs := make([]*x509.Certificate, 0, len(in))
	for i, a := range in {
		c, err := x509.ParseCertificate(a.GetAsn1())
		if err != nil {
			return fmt.Errorf("x509_authorities[%d]: %w", i, err)
		}
		certs = append(certs, c)
	}
	b.SetX509Authorities(certs)
	return nil
}

// setJWTAuthorities replaces b's JWT authorities with the parsed in.
func setJWTAuthorities(b *spiffebundle.Bundle, in []*types.JWTKey) error {
	b.SetJWTAuthorities(nil)
	for i, k := range in {
		if k.GetKeyId() == "" {
			return fmt.Errorf("jwt_authorities[%d]: key_id is required", i)
		}
		pub, err := x509.ParsePKIXPublicKey(k.GetPublicKey())
		if err != nil {
			return fmt.Errorf("jwt_authorities[%d] %q: %w", i, k.GetKeyId(), err)
		}
		if b.HasJWTAuthority(k.GetKeyId()) {
			return fmt.Errorf("jwt_authorities[%d]: key_id %q appears twice", i, k.GetKeyId())
		}
		if err := b.AddJWTAuthority(k.GetKeyId(), pub); err != nil {
			return fmt.Errorf("jwt_authorities[%d] %q: %w", i, k.GetKeyId(), err)
		}
	}
	return nil
}

// setRefreshHint sets b's refresh hint from seconds; zero leaves none.
func setRefreshHint(b *spiffebundle.Bundle, secs int64) error {
	switch {
	case secs < 0:
		return fmt.Errorf("refresh_hint: must not be negative, got %d", secs)
	case secs > int64((1<<63-1)/time.Second):
		return fmt.Errorf("refresh_hint: %d seconds is out of range", secs)
	case secs == 0:
		b.ClearRefreshHint()
	default:
		b.SetRefreshHint(time.Duration(secs) * time.Second)
	}
	return nil
}

// mergeBundle overlays the fields of in selected by m (all when nil) onto
// cur, as BatchUpdateFederatedBundle's input mask says.
func mergeBundle(cur *spiffebundle.Bundle, in *types.Bundle, m *types.BundleMask) error {
	all := m == nil
	if all || m.X509Authorities {
		if err := setX509Authorities(cur, in.GetX509Authorities()); err != nil {
			return err
		}
	}
	if all || m.JwtAuthorities {
		if err := setJWTAuthorities(cur, in.GetJwtAuthorities()); err != nil {
			return err
		}
	}
	if all || m.RefreshHint {
		if err := setRefreshHint(cur, in.GetRefreshHint()); err != nil {
			return err
		}
	}
	if all || m.SequenceNumber {
		cur.SetSequenceNumber(in.GetSequenceNumber())
	}
	return nil
}

// marshalBundle encodes b in the stored form.
func marshalBundle(b *spiffebundle.Bundle) (*datastore.Bundle, error) {
	data, err := b.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode bundle of %q: %w", b.TrustDomain(), err)
	}
	if len(data) == 0 {
		return nil, errors.New("encode bundle: empty")
	}
	return &datastore.Bundle{TrustDomain: b.TrustDomain().Name(), Data: data}, nil
}
