package registrar_test

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// nsSA is the template SPIRE's documentation shows first.
const nsSA = "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}"

// TestRegistrar runs the registrar against one real kube-apiserver; each
// case has its own datastore, namespace, node and registrar class, so the
// cluster-scoped resources of one case are invisible to the others.
func TestRegistrar(t *testing.T) {
	c := startCluster(t)
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, c *cluster, class string)
	}{
		{"PodLifecycle", testPodLifecycle},
		{"NamespaceLabels", testNamespaceLabels},
		{"TemplateChange", testTemplateChange},
		{"Fallback", testFallback},
		{"Masked", testMasked},
		{"ClassNames", testClassNames},
		{"ForeignEntriesUntouched", testForeignEntries},
		{"BadResources", testBadResources},
		{"RestartWithoutChurn", testRestartWithoutChurn},
		{"StaticEntries", testStaticEntries},
		{"Federation", testFederation},
		{"TwoServersOneLease", testTwoServers},
		{"AutoPopulateDNSNames", testAutoPopulateDNSNames},
		{"ResyncRepairsWithoutRewriting", testResync},
		{"TakeoverAfterExpiry", testTakeoverAfterExpiry},
		{"StoreUnavailableRetried", testStoreUnavailableRetried},
		{"RefusedEntryRetried", testRefusedEntryRetried},
		// Last: it restarts the apiserver.
		{"APIServerRestartedMidReconcile", testAPIServerRestart},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c, "c-"+fmt.Sprint(len(tc.name))+"-"+lower(tc.name)) })
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// podOwned filters the registrar's pod entries of cluster name.
func podOwned(clusterName string) datastore.EntryFilter {
	return datastore.EntryFilter{Owner: "k8s-registrar:" + clusterName + ":pods"}
}

func testPodLifecycle(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{
		ClassName: class, SPIFFEIDTemplate: nsSA + "/{{ index .PodMeta.Labels \"ver\" }}",
		WorkloadSelectorTemplates: []string{"k8s:ns:{{ .PodMeta.Namespace }}"},
		DNSNameTemplates:          []string{"{{ .PodMeta.Name }}.{{ .PodMeta.Namespace }}.svc"},
	})
	run(t, c.registrarConfig(store, class, class))
	pod := c.pod(t, class, "web", node.Name, map[string]string{"ver": "v1"})

	es := waitEntries(t, store, podOwned(class), "the pod's entry", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-web/v1"))
	e := es[0]
	wantParent := "spiffe://example.org/spire/agent/k8s_psat/" + class + "/" + string(node.UID)
	wantSels := selector.NewSet(selector.Selector{Type: "k8s", Value: "pod-uid:" + string(pod.UID)}, selector.Selector{Type: "k8s", Value: "ns:" + class})
	if e.ParentID != wantParent || !equalSels(e.Selectors, wantSels) || len(e.DNSNames) != 1 || e.DNSNames[0] != "web."+class+".svc" {
		t.Fatalf("entry = %s, want parent %s, selectors %v", dump(es), wantParent, wantSels.Strings())
	}
	c.waitSPIFFEIDStatus(t, class, "one pod set", func(s v1alpha1.ClusterSPIFFEIDStatus) bool {
		return s.Stats.PodsSelected == 1 && s.Stats.EntriesToSet == 1 && s.Stats.NamespacesSelected > 0
	})

	// Update: a label the template reads.
	patch := []byte(`{"metadata":{"labels":{"ver":"v2"}}}`)
	if _, err := c.kube.CoreV1().Pods(class).Patch(t.Context(), "web", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, store, podOwned(class), "the updated entry", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-web/v2"))

	// Delete.
	if err := c.kube.CoreV1().Pods(class).Delete(t.Context(), "web", deleteNow); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, store, podOwned(class), "no entry after the pod's deletion", hasIDs())
	c.waitSPIFFEIDStatus(t, class, "no pods", func(s v1alpha1.ClusterSPIFFEIDStatus) bool {
		return s.Stats.PodsSelected == 0 && s.Stats.EntriesToSet == 0
	})
}

func equalSels(a, b selector.Set) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testNamespaceLabels(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{
		ClassName: class, SPIFFEIDTemplate: nsSA,
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"mesh": "on", "kubernetes.io/metadata.name": class}},
	})
	run(t, c.registrarConfig(store, class, class))
	c.pod(t, class, "a", node.Name, nil)
	// A marker pod in a selected namespace proves the registrar has
	// processed the first pod (one worker would be FIFO; here we wait on
	// the status, which counts pods selected).
	c.waitSPIFFEIDStatus(t, class, "namespace not selected", func(s v1alpha1.ClusterSPIFFEIDStatus) bool { return s.Stats.PodsSelected == 0 })
	if es, _ := store.ListEntries(t.Context(), podOwned(class)); len(es) != 0 {
		t.Fatalf("entries for an unselected namespace: %s", dump(es))
	}
	label := func(v string) {
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{"mesh":%s}}}`, v)
		if _, err := c.kube.CoreV1().Namespaces().Patch(t.Context(), class, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	label(`"on"`)
	waitEntries(t, store, podOwned(class), "the entry once the namespace is labelled", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-a"))
	label(`null`)
	waitEntries(t, store, podOwned(class), "no entry once the label is removed", hasIDs())
}

func testTemplateChange(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	run(t, c.registrarConfig(store, class, class))
	for _, p := range []string{"a", "b"} {
		c.pod(t, class, p, node.Name, nil)
	}
	waitEntries(t, store, podOwned(class), "two entries", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-a", "spiffe://example.org/ns/"+class+"/sa/sa-b"))
	patch := []byte(`{"spec":{"spiffeIDTemplate":"spiffe://{{ .TrustDomain }}/pod/{{ .PodMeta.Name }}","hint":"h"}}`)
	if err := c.spire.Patch(types.MergePatchType).Resource("clusterspiffeids").Name(class).Body(patch).Do(t.Context()).Error(); err != nil {
		t.Fatal(err)
	}
	es := waitEntries(t, store, podOwned(class), "re-rendered entries", hasIDs("spiffe://example.org/pod/a", "spiffe://example.org/pod/b"))
	for _, e := range es {
		if e.Hint != "h" {
			t.Errorf("entry %s hint %q, want h", e.SPIFFEID, e.Hint)
		}
	}
}

func testFallback(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class+"-fallback", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, Fallback: true, SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/fallback/{{ .PodMeta.Name }}"})
	run(t, c.registrarConfig(store, class, class))
	c.pod(t, class, "a", node.Name, map[string]string{"app": "web"})
	c.pod(t, class, "b", node.Name, nil)
	waitEntries(t, store, podOwned(class), "fallback entries", hasIDs("spiffe://example.org/fallback/a", "spiffe://example.org/fallback/b"))
	c.spiffeID(t, class+"-web", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/web/{{ .PodMeta.Name }}",
		PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}})
	waitEntries(t, store, podOwned(class), "the fallback replaced where another matches", hasIDs("spiffe://example.org/web/a", "spiffe://example.org/fallback/b"))
}

func testMasked(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class+"-old", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	c.spiffeID(t, class+"-young", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	run(t, c.registrarConfig(store, class, class))
	c.pod(t, class, "a", node.Name, nil)
	waitEntries(t, store, podOwned(class), "one entry for two identical resources", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-a"))
	older, younger := class+"-old", class+"-young"
	if c.getSPIFFEID(t, younger).CreationTimestamp.Before(ptr(c.getSPIFFEID(t, older).CreationTimestamp)) {
		older, younger = younger, older
	}
	c.waitSPIFFEIDStatus(t, younger, "masked", func(s v1alpha1.ClusterSPIFFEIDStatus) bool {
		return s.Stats.EntriesMasked == 1 && s.Stats.EntriesToSet == 0 && s.Stats.PodsSelected == 1
	})
	c.waitSPIFFEIDStatus(t, older, "set", func(s v1alpha1.ClusterSPIFFEIDStatus) bool {
		return s.Stats.EntriesMasked == 0 && s.Stats.EntriesToSet == 1
	})
}

func ptr[T any](v T) *T { return &v }

func testClassNames(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	c.spiffeID(t, class+"-mine", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/mine/{{ .PodMeta.Name }}"})
	c.spiffeID(t, class+"-other", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class + "-other", SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/other/{{ .PodMeta.Name }}"})
	c.spiffeID(t, class+"-classless", v1alpha1.ClusterSPIFFEIDSpec{
		SPIFFEIDTemplate:  "spiffe://{{ .TrustDomain }}/classless/{{ .PodMeta.Name }}",
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": class}},
	})
	cfg := c.registrarConfig(store, class, class)
	cfg.WatchClassless = true
	run(t, cfg)
	c.pod(t, class, "a", node.Name, nil)
	waitEntries(t, store, podOwned(class), "entries of its class and classless ones only",
		hasIDs("spiffe://example.org/mine/a", "spiffe://example.org/classless/a"))
	if st := c.getSPIFFEID(t, class+"-other").Status.Stats; st != (v1alpha1.ClusterSPIFFEIDStats{}) {
		t.Errorf("another class's resource got status %+v", st)
	}
}

func testForeignEntries(t *testing.T, c *cluster, class string) {
	store := openStore(t)
	c.namespace(t, class, nil)
	node := c.node(t, class+"-node")
	pod := c.pod(t, class, "a", node.Name, nil)
	podSel := selector.Selector{Type: "k8s", Value: "pod-uid:" + string(pod.UID)}
	parent := "spiffe://example.org/spire/agent/k8s_psat/" + class + "/" + string(node.UID)
	// A manual entry for the pod, one identical to what the registrar
	// would render, and another cluster's registrar entry.
	manual, err := store.CreateEntry(t.Context(), &datastore.Entry{SPIFFEID: "spiffe://example.org/manual", ParentID: parent, Selectors: selector.NewSet(podSel)})
	if err != nil {
		t.Fatal(err)
	}
	clash, err := store.CreateEntry(t.Context(), &datastore.Entry{SPIFFEID: "spiffe://example.org/clash/a", ParentID: parent, Selectors: selector.NewSet(podSel)})
	if err != nil {
		t.Fatal(err)
	}
	otherCluster, err := store.CreateEntry(t.Context(), &datastore.Entry{SPIFFEID: "spiffe://example.org/ns/" + class + "/sa/sa-a", ParentID: parent + "-x", Selectors: selector.NewSet(podSel), Owner: "k8s-registrar:elsewhere:pods"})
	if err != nil {
		t.Fatal(err)
	}
	c.spiffeID(t, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: nsSA})
	c.spiffeID(t, class+"-clash", v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/clash/{{ .PodMeta.Name }}"})
	run(t, c.registrarConfig(store, class, class))
	waitEntries(t, store, podOwned(class), "the registrar's own entry", hasIDs("spiffe://example.org/ns/"+class+"/sa/sa-a"))
	c.waitSPIFFEIDStatus(t, class+"-clash", "an entry failure for the clash", func(s v1alpha1.ClusterSPIFFEIDStatus) bool { return s.Stats.EntryFailures == 1 })
	if err := c.kube.CoreV1().Pods(class).Delete(t.Context(), "a", deleteNow); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, store, podOwned(class), "the registrar's entry removed with the pod", hasIDs())
	for _, e := range []*datastore.Entry{manual, clash, otherCluster} {
		got, err := store.GetEntry(t.Context(), e.ID)
		if err != nil {
			t.Fatalf("foreign entry %s: %v", e.SPIFFEID, err)
		}
		if got.RevisionNumber != e.RevisionNumber || !render.Equal(got, e) {
			t.Errorf("foreign entry %s changed: %s", e.SPIFFEID, dump([]*datastore.Entry{got}))
		}
	}
}
