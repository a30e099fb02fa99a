package federation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

const (
	profileHTTPSSPIFFE = datastore.ProfileHTTPSSPIFFE
	profileHTTPSWeb    = datastore.ProfileHTTPSWeb
)

// ErrNoRelationship is returned by RefreshBundle for a trust domain the
// server has no federation relationship with. It wraps
// datastore.ErrNotFound, which the trust domain API reports as NotFound.
var ErrNoRelationship = fmt.Errorf("no federation relationship: %w", datastore.ErrNotFound)

// RelationshipStore lists the dynamic federation relationships (those
// created through the trust domain API). The SQLite store implements it.
type RelationshipStore interface {
	ListFederationRelationships(ctx context.Context) ([]*datastore.FederationRelationship, error)
}

// relationship is a checked federation relationship.
type relationship struct {
	td         spiffeid.TrustDomain
	url        string
	profile    string
	endpointID spiffeid.ID // https_spiffe only
	static     bool
}

// newRelationship checks r: a valid trust domain, an https URL, a known
// profile and, for https_spiffe, a valid endpoint SPIFFE ID.
func newRelationship(r *datastore.FederationRelationship, static bool) (relationship, error) {
	if r == nil {
		return relationship{}, errors.New("nil relationship")
	}
	td, err := spiffeid.TrustDomainFromString(r.TrustDomain)
	if err != nil {
		return relationship{}, fmt.Errorf("trust domain %q: %w", r.TrustDomain, err)
	}
	rel := relationship{td: td, url: r.BundleEndpointURL, profile: r.BundleEndpointProfile, static: static}
	u, err := url.Parse(r.BundleEndpointURL)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "" {
		return rel, fmt.Errorf("%q: bundle endpoint URL %q is not an https URL", td.Name(), r.BundleEndpointURL)
	}
	switch r.BundleEndpointProfile {
	case profileHTTPSWeb:
	case profileHTTPSSPIFFE:
		if rel.endpointID, err = spiffeid.FromString(r.EndpointSPIFFEID); err != nil {
			return rel, fmt.Errorf("%q: endpoint SPIFFE ID %q: %w", td.Name(), r.EndpointSPIFFEID, err)
		}
	default:
		return rel, fmt.Errorf("%q: unknown bundle endpoint profile %q", td.Name(), r.BundleEndpointProfile)
	}
	return rel, nil
}

// sameEndpoint reports whether a and b fetch the same way.
func (r relationship) sameEndpoint(o relationship) bool {
	return r.td == o.td && r.url == o.url && r.profile == o.profile && r.endpointID == o.endpointID
}

// relationships merges the static relationships with the stored ones;
// a static one wins over a stored one for the same trust domain, as in
// SPIRE. Relationships with the server's own trust domain and invalid
// stored ones are skipped (logged at debug level: a resync would repeat
// the line).
func (m *Manager) relationships(ctx context.Context) (map[spiffeid.TrustDomain]relationship, error) {
	out := make(map[spiffeid.TrustDomain]relationship, len(m.static))
	for _, r := range m.static {
		out[r.td] = r
	}
	if m.cfg.Relationships == nil {
		return out, nil
	}
	stored, err := m.cfg.Relationships.ListFederationRelationships(ctx)
	if err != nil {
		return nil, fmt.Errorf("federation: list relationships: %w", err)
	}
	for _, s := range stored {
		r, err := newRelationship(s, false)
		switch {
		case err != nil:
			m.cfg.Log.Debug("skipping stored federation relationship", "error", err)
		case r.td == m.cfg.TrustDomain:
			m.cfg.Log.Debug("skipping stored federation relationship with the server's own trust domain")
		case out[r.td].static:
			m.cfg.Log.Debug("stored federation relationship overridden by the configuration", "trust_domain", r.td.Name())
		default:
			out[r.td] = r
		}
	}
	return out, nil
}
