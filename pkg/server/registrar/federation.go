package registrar

import (
	"context"
	"errors"
	"fmt"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// federationDeleted remembers a deleted ClusterFederatedTrustDomain for
// the next federation reconciliation.
func (s *session) federationDeleted(c *v1alpha1.ClusterFederatedTrustDomain) {
	s.mu.Lock()
	s.deletedFeds = append(s.deletedFeds, c)
	s.mu.Unlock()
}

// reconcileFederation creates or updates the federation relationship of
// every ClusterFederatedTrustDomain of the registrar's class, and deletes
// those of deleted resources when the stored relationship is still the
// one the resource described (so one made or changed through the trust
// domain API is left alone). A relationship equal to its resource is not
// written.
func (s *session) reconcileFederation(ctx context.Context) error {
	s.mu.Lock()
	deleted := s.deletedFeds
	s.deletedFeds = nil
	s.mu.Unlock()
	store := s.r.cfg.Store
	var errs []error
	changed := false
	live := make(map[string]bool)
	if s.r.inf.federations != nil {
		for _, o := range s.r.inf.federations.GetStore().List() {
			c := o.(*v1alpha1.ClusterFederatedTrustDomain)
			if !render.ClassMatches(c.Spec.ClassName, s.r.cfg.ClassName, s.r.cfg.WatchClassless) {
				continue
			}
			live[c.Spec.TrustDomain] = true
			want := relationship(c)
			cur, err := store.GetFederationRelationship(ctx, want.TrustDomain)
			switch {
			case errors.Is(err, datastore.ErrNotFound):
				if want.TrustDomainBundle != nil {
					want.TrustDomainBundle.TrustDomain = want.TrustDomain
				}
				_, err = store.CreateFederationRelationship(ctx, want)
				changed = changed || err == nil
			case err == nil && !sameEndpoint(cur, want):
				want.TrustDomainBundle = nil // never replace a fetched bundle with the bootstrap one
				_, err = store.UpdateFederationRelationship(ctx, want)
				changed = changed || err == nil
			}
			if err != nil {
				s.r.log.Warn("registrar: federation relationship not set", "clusterfederatedtrustdomain", c.Name, "error", err)
				errs = append(errs, fmt.Errorf("federation relationship %s: %w", c.Spec.TrustDomain, err))
			}
		}
	}
	for _, c := range deleted {
		if live[c.Spec.TrustDomain] {
			continue
		}
		cur, err := store.GetFederationRelationship(ctx, c.Spec.TrustDomain)
		if err != nil || !sameEndpoint(cur, relationship(c)) {
			continue
		}
		if err := store.DeleteFederationRelationship(ctx, c.Spec.TrustDomain); err != nil && !errors.Is(err, datastore.ErrNotFound) {
			errs = append(errs, fmt.Errorf("delete federation relationship %s: %w", c.Spec.TrustDomain, err))
			continue
		}
		changed = true
	}
	if changed && s.r.cfg.RelationshipsChanged != nil {
		s.r.cfg.RelationshipsChanged()
	}
	return errors.Join(errs...)
}

// relationship converts a resource to the stored form.
func relationship(c *v1alpha1.ClusterFederatedTrustDomain) *datastore.FederationRelationship {
	r := &datastore.FederationRelationship{
		TrustDomain:           c.Spec.TrustDomain,
		BundleEndpointURL:     c.Spec.BundleEndpointURL,
		BundleEndpointProfile: string(c.Spec.BundleEndpointProfile.Type),
		EndpointSPIFFEID:      c.Spec.BundleEndpointProfile.EndpointSPIFFEID,
	}
	if c.Spec.TrustDomainBundle != "" {
		r.TrustDomainBundle = &datastore.Bundle{TrustDomain: c.Spec.TrustDomain, Data: []byte(c.Spec.TrustDomainBundle)}
	}
	return r
}

// sameEndpoint reports whether two relationships fetch the same way.
func sameEndpoint(a, b *datastore.FederationRelationship) bool {
	return a.TrustDomain == b.TrustDomain && a.BundleEndpointURL == b.BundleEndpointURL &&
		a.BundleEndpointProfile == b.BundleEndpointProfile && a.EndpointSPIFFEID == b.EndpointSPIFFEID
}
