package registrar_test

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// testAutoPopulateDNSNames: a pod behind a service (an EndpointSlice
// targeting it, as the endpoint slice controller would write) gets the
// service's DNS names; removing it from the slice removes them.
func testAutoPopulateDNSNames(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA, AutoPopulateDNSNames: true})
	run(t, c.registrarConfig(store, class, class))
	pod := c.pod(t, class, "a", node.Name, nil)
	waitEntries(t, store, podOwned(class), "the entry without DNS names", func(es []*datastore.Entry) bool { return len(es) == 1 && len(es[0].DNSNames) == 0 })
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-x", Namespace: class, Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.9"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: class, Name: "a", UID: pod.UID}}},
	}
	if _, err := c.kube.DiscoveryV1().EndpointSlices(class).Create(t.Context(), slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"web", "web." + class, "web." + class + ".svc", "web." + class + ".svc.cluster.local"}
	waitEntries(t, store, podOwned(class), "the service's DNS names", func(es []*datastore.Entry) bool {
		return len(es) == 1 && slices.Equal(es[0].DNSNames, want)
	})
	if err := c.kube.DiscoveryV1().EndpointSlices(class).Delete(t.Context(), "web-x", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, store, podOwned(class), "the DNS names gone with the slice", func(es []*datastore.Entry) bool { return len(es) == 1 && len(es[0].DNSNames) == 0 })
}
