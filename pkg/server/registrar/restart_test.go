package registrar_test

import (
	"fmt"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// testAPIServerRestart stops the apiserver while the registrar is in the
// middle of registering a burst of pods (a fault injected in the store
// holds its entry creations until the apiserver is down): the entries
// made stay as they are while it is down (the registrar loses its Lease
// and stops writing), and once it is back the registrar converges,
// re-writing none of them.
func testAPIServerRestart(t *testing.T, c *cluster, class string) {
	const pods = 20
	store := openStore(t)
	store.hold, store.held, store.holdAfter = make(chan struct{}), make(chan struct{}, 1), pods/2
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	run(t, c.registrarConfig(store, class, class))
	var want []string
	for i := range pods {
		name := fmt.Sprintf("p%02d", i)
		c.pod(t, class, name, node.Name, nil)
		want = append(want, "spiffe://example.org/ns/"+class+"/sa/sa-"+name)
	}
	<-store.held // half the entries are made, a creation is in flight
	atStop, err := store.ListEntries(t.Context(), podOwned(class))
	if err != nil {
		t.Fatal(err)
	}
	c.env.StopAPIServer(t)
	close(store.hold)
	c.env.StartAPIServer(t)
	c.pod(t, class, "after", node.Name, nil)
	waitEntries(t, store, podOwned(class), "every pod's entry after the restart", hasIDs(append(want, "spiffe://example.org/ns/"+class+"/sa/sa-after")...))
	for _, e := range atStop {
		got, err := store.GetEntry(t.Context(), e.ID)
		if err != nil {
			t.Errorf("entry %s made before the outage: %v", e.SPIFFEID, err)
			continue
		}
		if got.RevisionNumber != e.RevisionNumber {
			t.Errorf("entry %s rewritten across the outage (revision %d → %d)", e.SPIFFEID, e.RevisionNumber, got.RevisionNumber)
		}
	}
	t.Logf("%d of %d entries existed when the apiserver stopped", len(atStop), pods)
}
