package datastore

import "time"

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
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
}
