package registrar_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

func testBadResources(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class+"-good", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	c.spiffeID(t, class+"-alias", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/sa/{{ .PodMeta.ServiceAccountName }}"})
	c.spiffeID(t, class+"-unparsable", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: "spiffe://{{ .TrustDomain"})
	c.spiffeID(t, class+"-badid", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/{{ .PodMeta.Labels.missing }}"})
	c.spiffeID(t, class+"-badsel", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/x", WorkloadSelectorTemplates: []string{"no-colon"}})
	run(t, c.registrarConfig(store, class, class))
	c.pod(t, class, "a", node.Name, nil)
	waitEntries(t, store, podOwned(class), "the good and aliased entries", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-a", "spiffe://example.org/sa/sa-a"))
	for _, bad := range []string{"-unparsable", "-badid", "-badsel"} {
		c.waitSPIFFEIDStatus(t, class+bad, "one render failure", func(s v1alpha1.ClusterSPIFFEIDStatus) bool {
			return s.Stats.PodEntryRenderFailures == 1 && s.Stats.EntriesToSet == 0
		})
	}
	c.waitSPIFFEIDStatus(t, class+"-alias", "the alias warning", func(s v1alpha1.ClusterSPIFFEIDStatus) bool {
		return slices.Contains(s.Warnings, render.AliasWarning) && s.Stats.EntriesToSet == 1
	})
}

// staticEntry creates a ClusterStaticEntry.
func (c *cluster) staticEntry(t *testing.T, name string, spec v1alpha1.ClusterStaticEntrySpec) {
	t.Helper()
	c.create(t, "clusterstaticentries", &v1alpha1.ClusterStaticEntry{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ClusterStaticEntry"},
		ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec,
	})
}

func (c *cluster) getStatic(t *testing.T, name string) *v1alpha1.ClusterStaticEntry {
	t.Helper()
	out := &v1alpha1.ClusterStaticEntry{}
	if err := c.spire.Get().Resource("clusterstaticentries").Name(name).Do(t.Context()).Into(out); err != nil {
		t.Fatal(err)
	}
	return out
}

func staticOwned(clusterName string) datastore.EntryFilter {
	return datastore.EntryFilter{Owner: "k8s-registrar:" + clusterName + ":static"}
}

func testStaticEntries(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	spec := v1alpha1.ClusterStaticEntrySpec{ClassName: class, SPIFFEID: "spiffe://example.org/" + class + "/db", ParentID: "spiffe://example.org/spire/agent/x", Selectors: []string{"unix:uid:1000"}, X509SVIDTTL: metav1.Duration{Duration: 600e9}}
	c.staticEntry(t, class+"-a", spec)
	c.staticEntry(t, class+"-b", spec)
	bad := spec
	bad.Selectors = []string{"nocolon"}
	c.staticEntry(t, class+"-bad", bad)
	run(t, c.registrarConfig(store, class, class))
	es := waitEntries(t, store, staticOwned(class), "the static entry", hasIDs(spec.SPIFFEID))
	if es[0].X509SVIDTTL != 600 {
		t.Errorf("x509 TTL %d, want 600", es[0].X509SVIDTTL)
	}
	a, b := c.getStatic(t, class+"-a"), c.getStatic(t, class+"-b")
	if b.CreationTimestamp.Before(&a.CreationTimestamp) {
		a, b = b, a
	}
	c.waitStaticStatus(t, a.Name, v1alpha1.ClusterStaticEntryStatus{Rendered: true, Set: true})
	c.waitStaticStatus(t, b.Name, v1alpha1.ClusterStaticEntryStatus{Rendered: true, Masked: true})
	c.waitStaticStatus(t, class+"-bad", v1alpha1.ClusterStaticEntryStatus{})
}

func testFederation(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	ftd := class + ".test"
	c.create(t, "clusterfederatedtrustdomains", &v1alpha1.ClusterFederatedTrustDomain{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ClusterFederatedTrustDomain"},
		ObjectMeta: metav1.ObjectMeta{Name: class},
		Spec: v1alpha1.ClusterFederatedTrustDomainSpec{ClassName: class, TrustDomain: ftd, BundleEndpointURL: "https://" + ftd + "/bundle",
			BundleEndpointProfile: v1alpha1.BundleEndpointProfile{Type: v1alpha1.HTTPSWebProfileType}},
	})
	run(t, c.registrarConfig(store, class, class))
	waitStore(t, store, "the federation relationship", func() bool {
		r, err := store.GetFederationRelationship(t.Context(), ftd)
		return err == nil && r.BundleEndpointURL == "https://"+ftd+"/bundle" && r.BundleEndpointProfile == datastore.ProfileHTTPSWeb
	})
	if err := c.spire.Delete().Resource("clusterfederatedtrustdomains").Name(class).Do(t.Context()).Error(); err != nil {
		t.Fatal(err)
	}
	waitStore(t, store, "the relationship deleted with its resource", func() bool {
		_, err := store.GetFederationRelationship(t.Context(), ftd)
		return errors.Is(err, datastore.ErrNotFound)
	})
}

func testRestartWithoutChurn(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA, DNSNameTemplates: []string{"{{ .PodMeta.Name }}.x"}, FederatesWith: nil})
	c.staticEntry(t, class, v1alpha1.ClusterStaticEntrySpec{ClassName: class, SPIFFEID: "spiffe://example.org/" + class + "/static", ParentID: "spiffe://example.org/p", Selectors: []string{"unix:uid:1"}})
	for _, p := range []string{"a", "b", "c"} {
		c.pod(t, class, p, node.Name, nil)
	}
	stop := run(t, c.registrarConfig(store, class, class))
	want := []string{"spiffe://example.org/ns/" + class + "/sa/sa-a", "spiffe://example.org/ns/" + class + "/sa/sa-b", "spiffe://example.org/ns/" + class + "/sa/sa-c"}
	waitEntries(t, store, podOwned(class), "three entries", hasIDs(want...))
	waitEntries(t, store, staticOwned(class), "the static entry", hasIDs("spiffe://example.org/"+class+"/static"))
	c.waitStaticStatus(t, class, v1alpha1.ClusterStaticEntryStatus{Rendered: true, Set: true})
	stop()

	rev0, err := store.EntriesRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	staticRV := c.getStatic(t, class).ResourceVersion
	cfg := c.registrarConfig(store, class, class)
	cfg.Workers = 1 // FIFO: the marker pod is reconciled after everything enqueued at start
	run(t, cfg)
	c.pod(t, class, "marker", node.Name, nil)
	waitEntries(t, store, podOwned(class), "the marker's entry", hasIDs(append(want, "spiffe://example.org/ns/"+class+"/sa/sa-marker")...))
	rev1, err := store.EntriesRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rev1-rev0 != 1 {
		t.Errorf("a restart with nothing changed made %d entry writes besides the marker's create, want 0", rev1-rev0-1)
	}
	if rv := c.getStatic(t, class).ResourceVersion; rv != staticRV {
		t.Errorf("the unchanged static entry's status was rewritten (resourceVersion %s → %s)", staticRV, rv)
	}
}

func testTwoServers(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	c.pod(t, class, "a", node.Name, nil)
	cfgA, cfgB := c.registrarConfig(store, class, class), c.registrarConfig(store, class, class)
	cfgA.Identity, cfgB.Identity = "server-a", "server-b"
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	cfgA.Registerer, cfgB.Registerer = regA, regB
	cfgB.Workers = 1
	stopA := run(t, cfgA)
	waitEntries(t, store, podOwned(class), "server A's entry", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-a"))
	run(t, cfgB)
	if gauge(t, regA, "svidkit_registrar_leader") != 1 || gauge(t, regB, "svidkit_registrar_leader") != 0 {
		t.Fatalf("leaders: A %v, B %v; want A only", gauge(t, regA, "svidkit_registrar_leader"), gauge(t, regB, "svidkit_registrar_leader"))
	}
	rev0, err := store.EntriesRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stopA() // releases the Lease
	c.pod(t, class, "b", node.Name, nil)
	waitEntries(t, store, podOwned(class), "server B's entry after the takeover", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-a", "spiffe://example.org/ns/"+class+"/sa/sa-b"))
	if g := gauge(t, regB, "svidkit_registrar_leader"); g != 1 {
		t.Errorf("server B leader gauge %v after the takeover, want 1", g)
	}
	rev1, err := store.EntriesRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rev1-rev0 != 1 {
		t.Errorf("the takeover made %d entry writes besides pod b's create, want 0", rev1-rev0-1)
	}
}

// gauge reads a gauge from a registry.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}
