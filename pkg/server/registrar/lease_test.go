package registrar_test

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// testTakeoverAfterExpiry: a Lease left by a server that died without
// releasing it (held by "ghost", never renewed) is taken over only once
// it has expired on this server's clock; until then nothing is written.
func testTakeoverAfterExpiry(t *testing.T, c *cluster, class string) {
	const leaseSeconds = 2
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	c.pod(t, class, "a", node.Name, nil)
	ghost, secs, now := "ghost", int32(leaseSeconds), metav1.NewMicroTime(time.Now())
	if _, err := c.kube.CoordinationV1().Leases(metav1.NamespaceDefault).Create(t.Context(), &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "svidkit-registrar-" + class},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &ghost, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run(t, c.registrarConfig(store, class, class))
	waitEntries(t, store, podOwned(class), "the entry after the takeover", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-a"))
	if waited := time.Since(start); waited < leaseSeconds*time.Second {
		t.Errorf("took over a lease held by another server after %s, before its %d s expired", waited, leaseSeconds)
	}
	l, err := c.kube.CoordinationV1().Leases(metav1.NamespaceDefault).Get(t.Context(), "svidkit-registrar-"+class, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := *l.Spec.HolderIdentity; h == ghost || l.Spec.LeaseTransitions == nil || *l.Spec.LeaseTransitions != 1 {
		t.Errorf("lease holder %q, transitions %v; want this server, 1", h, l.Spec.LeaseTransitions)
	}
}
