package datastore

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// MaxBundleEndpointURLLength bounds a relationship's bundle endpoint URL.
const MaxBundleEndpointURLLength = 2048

// Validate reports whether r can be stored: TrustDomain is a trust domain
// name (not a spiffe:// ID), BundleEndpointURL an https URL with a host and
// no user info, BundleEndpointProfile one of the two profiles, and
// EndpointSPIFFEID a SPIFFE ID of the foreign trust domain for
// ProfileHTTPSSPIFFE and empty for ProfileHTTPSWeb. A TrustDomainBundle
// must be the trust domain's. Errors name the field.
func (r *FederationRelationship) Validate() error {
	if r == nil {
		return errors.New("federation relationship: nil")
	}
	if r.TrustDomain == "" {
		return errors.New("federation relationship: trust_domain is required")
	}
	td, err := spiffeid.TrustDomainFromString(r.TrustDomain)
	if err != nil {
		return fmt.Errorf("federation relationship: trust_domain %q: %w", r.TrustDomain, err)
	}
	if td.Name() != r.TrustDomain {
		return fmt.Errorf("federation relationship: trust_domain %q: want the name %q", r.TrustDomain, td.Name())
	}
	if err := validateBundleEndpointURL(r.BundleEndpointURL); err != nil {
		return fmt.Errorf("federation relationship %q: bundle_endpoint_url: %w", r.TrustDomain, err)
	}
	switch r.BundleEndpointProfile {
	case ProfileHTTPSWeb:
		if r.EndpointSPIFFEID != "" {
			return fmt.Errorf("federation relationship %q: endpoint_spiffe_id: only allowed with profile %q", r.TrustDomain, ProfileHTTPSSPIFFE)
		}
	case ProfileHTTPSSPIFFE:
		if r.EndpointSPIFFEID == "" {
			return fmt.Errorf("federation relationship %q: endpoint_spiffe_id: required with profile %q", r.TrustDomain, ProfileHTTPSSPIFFE)
		}
		if len(r.EndpointSPIFFEID) > MaxSPIFFEIDLength {
			return fmt.Errorf("federation relationship %q: endpoint_spiffe_id: longer than %d bytes", r.TrustDomain, MaxSPIFFEIDLength)
		}
		id, err := spiffeid.FromString(r.EndpointSPIFFEID)
		if err != nil {
			return fmt.Errorf("federation relationship %q: endpoint_spiffe_id %q: %w", r.TrustDomain, r.EndpointSPIFFEID, err)
		}
		if !id.MemberOf(td) {
			return fmt.Errorf("federation relationship %q: endpoint_spiffe_id %q: not in trust domain %q", r.TrustDomain, r.EndpointSPIFFEID, r.TrustDomain)
		}
	case "":
		return fmt.Errorf("federation relationship %q: bundle_endpoint_profile is required (%q or %q)", r.TrustDomain, ProfileHTTPSSPIFFE, ProfileHTTPSWeb)
	default:
		return fmt.Errorf("federation relationship %q: bundle_endpoint_profile %q: want %q or %q", r.TrustDomain, r.BundleEndpointProfile, ProfileHTTPSSPIFFE, ProfileHTTPSWeb)
	}
	if b := r.TrustDomainBundle; b != nil {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("federation relationship %q: trust_domain_bundle: %w", r.TrustDomain, err)
		}
		if b.TrustDomain != r.TrustDomain {
			return fmt.Errorf("federation relationship %q: trust_domain_bundle is the bundle of %q", r.TrustDomain, b.TrustDomain)
		}
	}
	return nil
}

// validateBundleEndpointURL reports whether u is an absolute https URL with
// a host and without user info (credentials do not belong in a URL that
// is listed over the API and logged).
func validateBundleEndpointURL(u string) error {
	if u == "" {
		return errors.New("is required")
	}
	if len(u) > MaxBundleEndpointURLLength {
		return fmt.Errorf("longer than %d bytes", MaxBundleEndpointURLLength)
	}
	parsed, err := url.Parse(u)
	switch {
	case err != nil:
		return fmt.Errorf("%q: %w", u, err)
	case parsed.Scheme != "https":
		return fmt.Errorf("%q: must use the https scheme", u)
	case parsed.Host == "":
		return fmt.Errorf("%q: must name a host", u)
	case parsed.User != nil:
		return fmt.Errorf("%q: must not contain user info", u)
	}
	return nil
}
