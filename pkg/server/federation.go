package server

import (
	"context"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// FederationController is what the trust domain API needs from the part
// of the server that fetches foreign bundles (package
// pkg/server/federation). It merges the relationships of the
// configuration with the stored ones, the configured ones taking
// precedence for the same trust domain, as SPIRE's bundle client manager
// does. Config.Federation may be nil: RefreshBundle then fails with
// FailedPrecondition.
type FederationController interface {
	// RefreshBundle fetches td's bundle from its bundle endpoint now and
	// stores it if it changed. It returns an error wrapping
	// datastore.ErrNotFound when there is no relationship (configured or
	// stored) with td, which the API reports as NotFound as SPIRE does;
	// any other error is reported as Internal with its text.
	RefreshBundle(ctx context.Context, td spiffeid.TrustDomain) error
	// RelationshipsChanged tells the controller that relationships were
	// created, updated or deleted through the API, so that it reloads
	// them from the store. It must not block.
	RelationshipsChanged()
}
