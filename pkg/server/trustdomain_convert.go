package server

import (
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// relationshipFromProto converts an API relationship to the stored form,
// its trust domain given as a name or as spiffe://<name>. The store's
// Validate judges the fields; this only parses the API's shapes. A
// trust_domain_bundle must be of the relationship's trust domain and hold
// at least one authority.
func relationshipFromProto(in *types.FederationRelationship) (*datastore.FederationRelationship, error) {
	if in == nil {
		return nil, errors.New("federation relationship: is required")
	}
	td, err := spiffeid.TrustDomainFromString(in.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("trust_domain %q: %w", in.TrustDomain, err)
	}
	out := &datastore.FederationRelationship{TrustDomain: td.Name(), BundleEndpointURL: in.BundleEndpointUrl}
	if err := setProfile(out, in); err != nil {
		return nil, err
	}
	if in.TrustDomainBundle != nil {
		b, err := relationshipBundle(in.TrustDomainBundle, td)
		if err != nil {
			return nil, err
		}
		out.TrustDomainBundle = b
	}
	return out, nil
}

// setProfile copies in's bundle endpoint profile onto r.
func setProfile(r *datastore.FederationRelationship, in *types.FederationRelationship) error {
	switch p := in.BundleEndpointProfile.(type) {
	case *types.FederationRelationship_HttpsSpiffe:
		r.BundleEndpointProfile = datastore.ProfileHTTPSSPIFFE
		r.EndpointSPIFFEID = p.HttpsSpiffe.GetEndpointSpiffeId()
	case *types.FederationRelationship_HttpsWeb:
		r.BundleEndpointProfile = datastore.ProfileHTTPSWeb
		r.EndpointSPIFFEID = ""
	case nil:
		return errors.New("bundle_endpoint_profile: is required (https_spiffe or https_web)")
	default:
		return fmt.Errorf("bundle_endpoint_profile: unsupported type %T", p)
	}
	return nil
}

// relationshipBundle converts a relationship's trust_domain_bundle, which
// must be td's.
func relationshipBundle(in *types.Bundle, td spiffeid.TrustDomain) (*datastore.Bundle, error) {
	btd, err := spiffeid.TrustDomainFromString(in.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("trust_domain_bundle: trust_domain %q: %w", in.TrustDomain, err)
	}
	if btd != td {
		return nil, fmt.Errorf("trust_domain_bundle: trust domain %q must match the relationship's %q", btd.Name(), td.Name())
	}
	b, err := bundleFromProto(in, td)
	if err != nil {
		return nil, fmt.Errorf("trust_domain_bundle: %w", err)
	}
	if len(b.X509Authorities()) == 0 && len(b.JWTAuthorities()) == 0 {
		return nil, errors.New("trust_domain_bundle: has no X.509 or JWT authorities")
	}
	rec, err := marshalBundle(b)
	if err != nil {
		return nil, fmt.Errorf("trust_domain_bundle: %w", err)
	}
	return rec, nil
}

// protoRelationship converts a stored relationship to its API form with
// the fields of m (all when nil).
func protoRelationship(r *datastore.FederationRelationship, m *types.FederationRelationshipMask) (*types.FederationRelationship, error) {
	all := m == nil
	out := &types.FederationRelationship{TrustDomain: r.TrustDomain}
	if all || m.BundleEndpointUrl {
		out.BundleEndpointUrl = r.BundleEndpointURL
	}
	if all || m.BundleEndpointProfile {
		switch r.BundleEndpointProfile {
		case datastore.ProfileHTTPSSPIFFE:
			out.BundleEndpointProfile = &types.FederationRelationship_HttpsSpiffe{
				HttpsSpiffe: &types.HTTPSSPIFFEProfile{EndpointSpiffeId: r.EndpointSPIFFEID},
			}
		case datastore.ProfileHTTPSWeb:
			out.BundleEndpointProfile = &types.FederationRelationship_HttpsWeb{HttpsWeb: &types.HTTPSWebProfile{}}
		default:
			return nil, fmt.Errorf("relationship %q: unknown stored profile %q", r.TrustDomain, r.BundleEndpointProfile)
		}
	}
	if (all || m.TrustDomainBundle) && r.TrustDomainBundle != nil {
		b, err := storedProtoBundle(r.TrustDomainBundle, nil)
		if err != nil {
			return nil, err
		}
		out.TrustDomainBundle = b
	}
	return out, nil
}

// mergeRelationship overlays the fields of in selected by m (all when nil)
// onto cur, a stored relationship; cur's bundle is left alone unless in
// carries one under the mask.
func mergeRelationship(cur *datastore.FederationRelationship, in *types.FederationRelationship, m *types.FederationRelationshipMask) error {
	all := m == nil
	td, err := spiffeid.TrustDomainFromString(cur.TrustDomain)
	if err != nil {
		return fmt.Errorf("stored trust_domain %q: %w", cur.TrustDomain, err)
	}
	cur.TrustDomainBundle = nil
	if all || m.BundleEndpointUrl {
		cur.BundleEndpointURL = in.BundleEndpointUrl
	}
	if all || m.BundleEndpointProfile {
		if err := setProfile(cur, in); err != nil {
			return err
		}
	}
	if (all || m.TrustDomainBundle) && in.TrustDomainBundle != nil {
		b, err := relationshipBundle(in.TrustDomainBundle, td)
		if err != nil {
			return err
		}
		cur.TrustDomainBundle = b
	}
	return nil
}
