package registrar_test

import (
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// testResync: the periodic safety resync re-reads the registrar's entries
// from the datastore and repairs drift (an entry deleted behind its back,
// with no Kubernetes event) while rewriting none of the unchanged ones.
func testResync(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	cfg := c.registrarConfig(store, class, class)
	cfg.ResyncInterval = 300 * time.Millisecond
	run(t, cfg)
	c.pod(t, class, "a", node.Name, nil)
	c.pod(t, class, "b", node.Name, nil)
	a, b := "spiffe://example.org/ns/"+class+"/sa/sa-a", "spiffe://example.org/ns/"+class+"/sa/sa-b"
	es := waitEntries(t, store, podOwned(class), "both entries", hasIDs(a, b))
	kept := es[1]
	if _, err := store.DeleteEntry(t.Context(), es[0].ID); err != nil {
		t.Fatal(err)
	}
	es = waitEntries(t, store, podOwned(class), "the deleted entry restored by a resync", hasIDs(a, b))
	for _, e := range es {
		if e.SPIFFEID == kept.SPIFFEID && (e.ID != kept.ID || e.RevisionNumber != kept.RevisionNumber) {
			t.Errorf("the unchanged entry was rewritten by the resync: %s", dump([]*datastore.Entry{kept, e}))
		}
	}
}
