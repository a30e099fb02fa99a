package testenv

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/serverd"
)

// OpenStore opens the server's datastore a second time, as another server
// process sharing it would, closed when the test ends. Writes through it
// reach the server only through the store (its revisions), never through
// the server's own code paths.
func (s *Server) OpenStore(t testing.TB) datastore.Store {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	st, err := serverd.OpenStore(ctx, s.cfg.DataStore, Logger())
	if err != nil {
		t.Fatalf("testenv: open the server's datastore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// SetBundle writes b into store as the bundle of its trust domain, as the
// federation fetcher or the bundle API would.
func SetBundle(t testing.TB, store datastore.Store, b *spiffebundle.Bundle) {
	t.Helper()
	data, err := b.Marshal()
	if err != nil {
		t.Fatalf("testenv: marshal bundle of %s: %v", b.TrustDomain(), err)
	}
	ctx, cancel := callCtx()
	defer cancel()
	if err := store.SetBundle(ctx, &datastore.Bundle{TrustDomain: b.TrustDomain().Name(), Data: data}); err != nil {
		t.Fatalf("testenv: set bundle of %s: %v", b.TrustDomain(), err)
	}
}

// DeleteBundle removes the bundle of the trust domain named td from store,
// doing to the entries that federate with it what mode says.
func DeleteBundle(t testing.TB, store datastore.Store, td string, mode datastore.BundleDeleteMode) {
	t.Helper()
	ctx, cancel := callCtx()
	defer cancel()
	if err := store.DeleteBundle(ctx, td, mode); err != nil {
		t.Fatalf("testenv: delete bundle of %s: %v", td, err)
	}
}
