package registrar_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// unavailableStore injects a fault: its first failures entry creations
// fail with datastore.ErrUnavailable, as the PostgreSQL store's do while
// the database restarts; then it heals by itself.
type unavailableStore struct {
	*notifyingStore
	mu       sync.Mutex
	failures int
}

func (s *unavailableStore) CreateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error) {
	s.mu.Lock()
	fail := s.failures > 0
	if fail {
		s.failures--
	}
	s.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("injected: create entry: %w", datastore.ErrUnavailable)
	}
	return s.notifyingStore.CreateEntry(ctx, e)
}

// testStoreUnavailableRetried: a pod's entry creation fails while the
// datastore is unavailable (fault injected); once the store heals the
// entry appears, from the registrar's own retries, without any
// Kubernetes event after the pod's creation.
func testStoreUnavailableRetried(t *testing.T, c *cluster, class string) {
	ns := openStore(t)
	store := &unavailableStore{notifyingStore: ns, failures: 6}
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	c.pod(t, class, "a", node.Name, nil)
	run(t, c.registrarConfig(store, class, class))
	waitEntries(t, ns, podOwned(class), "the entry after the datastore healed", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-a"))
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.failures != 0 {
		t.Errorf("%d injected failures left: the entry was not refused first", store.failures)
	}
}

// testRefusedEntryRetried: the datastore refuses the pod's entry because
// a foreign entry (made by hand, no owner) has the same identity; when
// that entry is deleted the registrar's appears, from its own retries:
// the deletion is a datastore change, not a Kubernetes event.
func testRefusedEntryRetried(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	pod := c.pod(t, class, "a", node.Name, nil)
	id := "spiffe://example.org/ns/" + class + "/sa/sa-a"
	foreign, err := store.CreateEntry(t.Context(), &datastore.Entry{
		SPIFFEID: id, ParentID: "spiffe://example.org/spire/agent/k8s_psat/" + class + "/" + string(node.UID),
		Selectors: selector.NewSet(selector.Selector{Type: "k8s", Value: "pod-uid:" + string(pod.UID)}),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	run(t, c.registrarConfig(store, class, class))
	c.waitSPIFFEIDStatus(t, class, "the entry refused", func(s v1alpha1.ClusterSPIFFEIDStatus) bool { return s.Stats.EntryFailures == 1 })
	if _, err := store.DeleteEntry(t.Context(), foreign.ID); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, store, podOwned(class), "the registrar's entry once the foreign one is gone", hasIDs(id))
	c.waitSPIFFEIDStatus(t, class, "no entry failure", func(s v1alpha1.ClusterSPIFFEIDStatus) bool {
		return s.Stats.EntryFailures == 0 && s.Stats.EntriesToSet == 1
	})
}
