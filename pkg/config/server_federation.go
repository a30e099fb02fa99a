package config

import (
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// Defaults of the federation block, as in SPIRE.
const (
	DefaultBundleEndpointAddress = "0.0.0.0"
	DefaultBundleEndpointPort    = 8443
	DefaultBundleRefreshHint     = 5 * time.Minute
	// DefaultFileSyncInterval is how often the https_web serving
	// certificate files are re-read (SPIRE's file_sync_interval default).
	DefaultFileSyncInterval = time.Hour
)

// Bundle endpoint profiles, spelled as in SPIRE's configuration.
const (
	ProfileHTTPSSPIFFE = "https_spiffe"
	ProfileHTTPSWeb    = "https_web"
)

// minRefreshHint is the shortest refresh hint SPIRE honours; a lower one
// is accepted with a warning.
const minRefreshHint = time.Minute

// federationBlock names the federation block in messages and Lines.
const federationBlock = "federation block"

// Federation is the server's federation block: the bundle endpoint this
// server serves and the foreign trust domains it fetches bundles from.
type Federation struct {
	// BundleEndpoint is nil when the block has no bundle_endpoint.
	BundleEndpoint *BundleEndpoint
	// FederatesWith holds the static relationships in file order.
	FederatesWith []FederatesWith
}

// BundleEndpoint is federation.bundle_endpoint, defaults resolved.
type BundleEndpoint struct {
	Address     string        // default DefaultBundleEndpointAddress
	Port        int           // default DefaultBundleEndpointPort
	RefreshHint time.Duration // default DefaultBundleRefreshHint
	// Profile is ProfileHTTPSSPIFFE (the server's own X.509-SVID, also
	// what SPIRE uses, with a warning, when no profile is given) or
	// ProfileHTTPSWeb (ServingCertFile).
	Profile string
	// ServingCertFile is set for ProfileHTTPSWeb.
	ServingCertFile *ServingCertFile
}

// FederatesWith is one federates_with "<trust domain>" block.
type FederatesWith struct {
	TrustDomain       spiffeid.TrustDomain
	BundleEndpointURL string
	// Profile is ProfileHTTPSSPIFFE or ProfileHTTPSWeb.
	Profile string
	// EndpointSPIFFEID is the ID the endpoint must present
	// (ProfileHTTPSSPIFFE only).
	EndpointSPIFFEID spiffeid.ID
}

// validateFederation reports what only the whole configuration can tell:
// a relationship with the server's own trust domain (which may come from
// -trustDomain) and bundle endpoint port collisions.
func (s *Server) validateFederation(p *hcldecode.Problems) {
	f := s.Federation
	if f == nil {
		return
	}
	for _, fw := range f.FederatesWith {
		if !s.TrustDomain.IsZero() && fw.TrustDomain == s.TrustDomain {
			p.At(s.Lines.Line(federationBlock, federatesWithKey(fw.TrustDomain)),
				"federates_with %q: a server cannot federate with its own trust domain", fw.TrustDomain.Name())
		}
	}
	if be := f.BundleEndpoint; be != nil && be.Port != 0 && be.Port == s.BindPort &&
		(be.Address == s.BindAddress || be.Address == "0.0.0.0" || s.BindAddress == "0.0.0.0") {
		p.At(s.Lines.Line(bundleEndpointBlock, "port"),
			"bundle_endpoint port %d is also the server's bind_port", be.Port)
	}
}

// federatesWithKey is the Lines key of a federates_with block.
func federatesWithKey(td spiffeid.TrustDomain) string {
	return `federates_with "` + td.Name() + `"`
}
