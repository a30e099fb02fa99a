package datastore

import (
	"errors"
	"fmt"
	"time"
)

// Bundle endpoint profiles of a federation relationship, spelled as in
// SPIRE's configuration and API.
const (
	// ProfileHTTPSSPIFFE authenticates the bundle endpoint with an X.509-SVID
	// of the foreign trust domain, verified against its current bundle.
	ProfileHTTPSSPIFFE = "https_spiffe"
	// ProfileHTTPSWeb authenticates the bundle endpoint with a Web PKI
	// certificate, verified against the system's root CAs.
	ProfileHTTPSWeb = "https_web"
)

// Errors of the federation part of the Store, tested with errors.Is.
var (
	// ErrNoFederatedBundle reports an entry write whose federates_with
	// names a trust domain that has no stored bundle (as SPIRE refuses
	// it): the trust domain must be federated first (bundle set, or a
	// relationship whose bundle was fetched).
	ErrNoFederatedBundle = errors.New("no bundle stored for the federated trust domain")
	// ErrInUse reports a DeleteBundle in DeleteRestrict mode of a bundle
	// that registration entries still federate with.
	ErrInUse = errors.New("in use")
)

// BundleDeleteMode says what DeleteBundle does with the registration
// entries that federate with the deleted trust domain; the modes are
// SPIRE's (BatchDeleteFederatedBundleRequest.Mode).
type BundleDeleteMode int

const (
	// DeleteRestrict refuses, with ErrInUse, to delete a bundle that
	// entries federate with.
	DeleteRestrict BundleDeleteMode = iota
	// DeleteDissociate removes the trust domain from the entries'
	// FederatesWith (each such entry's revision grows) and deletes the
	// bundle.
	DeleteDissociate
	// DeleteEntries deletes the entries that federate with the trust
	// domain and the bundle.
	DeleteEntries
)

// FederationRelationship says where and how the server fetches the bundle
// of a foreign trust domain. Relationships created through the trust domain
// API are stored; those written in the server's configuration are not, and
// take precedence over a stored one for the same trust domain, as in SPIRE.
type FederationRelationship struct {
	// TrustDomain is the foreign trust domain's name ("example.org").
	TrustDomain string
	// BundleEndpointURL is the https URL the foreign bundle is fetched from.
	BundleEndpointURL string
	// BundleEndpointProfile is ProfileHTTPSSPIFFE or ProfileHTTPSWeb.
	BundleEndpointProfile string
	// EndpointSPIFFEID is the SPIFFE ID the endpoint's SVID must carry
	// (ProfileHTTPSSPIFFE only).
	EndpointSPIFFEID string
	// TrustDomainBundle is SPIRE's trust_domain_bundle: when set on create
	// or update it is stored as the trust domain's bundle in the same
	// transaction (an https_spiffe endpoint cannot be authenticated
	// without it). Get and List return the stored bundle, nil when there
	// is none.
	TrustDomainBundle *Bundle
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CheckFederatedBundles returns ErrNoFederatedBundle, naming the first
// trust domain of want that have lacks: the stores' check that an entry
// federates only with trust domains whose bundle is stored.
func CheckFederatedBundles(want []string, have map[string]bool) error {
	for _, td := range want {
		if !have[td] {
			return fmt.Errorf("federates_with %q: %w", td, ErrNoFederatedBundle)
		}
	}
	return nil
}
