package k8s_test

import (
	"path"
	"slices"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// TestRegistrarExamplesRender renders each ClusterSPIFFEID of
// examples/registrar, decoded strictly from its file, for a pod it should
// select and one it should not, with the registrar's renderer, and checks
// the entry: the documented forms produce the documented IDs, DNS names,
// selectors and settings. (The registrar's own tests cover reconciling;
// this ties the published examples to what they claim.)
func TestRegistrarExamplesRender(t *testing.T) {
	s := loadManifests(t).under(registrarExamples)
	agent := "spiffe://example.org/spire/agent/k8s_psat/demo-cluster/node-uid-1"
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", UID: "node-uid-1",
		Labels: map[string]string{"topology.kubernetes.io/zone": "zone-a"}}}
	type workload struct {
		ns       string
		nsLabels map[string]string
		name, sa string
		labels   map[string]string
	}
	for _, tc := range []struct {
		file, class string
		selected    workload
		notSelected workload
		want        datastore.Entry
	}{
		{
			file:        "namespace-service-account.yaml",
			selected:    workload{ns: "shop", nsLabels: map[string]string{"backend": "true"}, name: "cart-5f7c", sa: "cart"},
			notSelected: workload{ns: "tools", name: "cart-5f7c", sa: "cart"},
			want:        datastore.Entry{SPIFFEID: "spiffe://example.org/ns/shop/sa/cart"},
		},
		{
			file:        "pod-labels.yaml",
			selected:    workload{ns: "bank", name: "teller-0", sa: "teller", labels: map[string]string{"banking": "true"}},
			notSelected: workload{ns: "bank", name: "teller-0", sa: "teller", labels: map[string]string{"banking": "false"}},
			want:        datastore.Entry{SPIFFEID: "spiffe://example.org/ns/bank/sa/teller", FederatesWith: []string{"auditing.example"}},
		},
		{
			file:        "dns-names.yaml",
			selected:    workload{ns: "shop", name: "web-7d9f", sa: "web", labels: map[string]string{"app.kubernetes.io/component": "web"}},
			notSelected: workload{ns: "shop", name: "db-0", sa: "db", labels: map[string]string{"app.kubernetes.io/component": "database"}},
			want: datastore.Entry{SPIFFEID: "spiffe://example.org/ns/shop/sa/web", DNSNames: []string{"web-7d9f.shop.cluster.local"},
				X509SVIDTTL: 1800, JWTSVIDTTL: 300},
		},
		{
			file: "workload-selectors.yaml", class: "payments",
			selected:    workload{ns: "payments", name: "payments-1", sa: "default", labels: map[string]string{"app": "payments"}},
			notSelected: workload{ns: "shop", name: "payments-1", sa: "default", labels: map[string]string{"app": "payments"}},
			want: datastore.Entry{SPIFFEID: "spiffe://example.org/demo-cluster/zone-a/payments/payments", Hint: "payments",
				Selectors: selectorSet(t, "k8s:container-image:registry.example.com/payments:2.4.1")},
		},
		{
			file:        "fallback.yaml",
			selected:    workload{ns: "shop", name: "batch-1", sa: "batch"},
			notSelected: workload{ns: "kube-system", name: "coredns-1", sa: "coredns"},
			want:        datastore.Entry{SPIFFEID: "spiffe://example.org/ns/shop/sa/batch", Hint: "default"},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			objs := examplesOf(s, path.Join(registrarExamples, tc.file))
			if len(objs) != 1 {
				t.Fatalf("%d objects in %s, want 1", len(objs), tc.file)
			}
			c := render.CompileClusterSPIFFEID(objs[0].obj.(*v1alpha1.ClusterSPIFFEID))
			if c.Err != nil || len(c.Warnings) > 0 {
				t.Fatalf("compile: %v, warnings %q", c.Err, c.Warnings)
			}
			if !render.ClassMatches(c.ClassName, tc.class, false) || tc.class != "" && render.ClassMatches(c.ClassName, "", true) {
				t.Errorf("className %q: acted on by a registrar of class %q only, want %q", c.ClassName, c.ClassName, tc.class)
			}
			r, err := render.NewRenderer(render.Config{TrustDomain: spiffeid.RequireTrustDomainFromString("example.org"),
				ClusterName: "demo-cluster", ClusterDomain: defaultClusterDomain})
			if err != nil {
				t.Fatal(err)
			}
			pod := func(w workload) (*corev1.Pod, *corev1.Namespace) {
				labels := map[string]string{"kubernetes.io/metadata.name": w.ns}
				for k, v := range w.nsLabels {
					labels[k] = v
				}
				return &corev1.Pod{
						ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: w.name, UID: "pod-uid-1", Labels: w.labels},
						Spec:       corev1.PodSpec{ServiceAccountName: w.sa, NodeName: node.Name},
					},
					&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.ns, Labels: labels}}
			}
			if p, ns := pod(tc.notSelected); c.SelectsNamespace(ns) && c.SelectsPod(p) {
				t.Errorf("selects pod %s/%s (labels %v, namespace labels %v)", p.Namespace, p.Name, p.Labels, ns.Labels)
			}
			p, ns := pod(tc.selected)
			if !c.SelectsNamespace(ns) || !c.SelectsPod(p) {
				t.Fatalf("does not select pod %s/%s (labels %v, namespace labels %v)", p.Namespace, p.Name, p.Labels, ns.Labels)
			}
			got, err := r.Pod(c, p, node, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.ParentID = agent
			want.Selectors = selectorSet(t, append([]string{"k8s:pod-uid:pod-uid-1"}, want.Selectors.Strings()...)...)
			if !render.Equal(got, &want) || !slices.Equal(got.Selectors.Strings(), want.Selectors.Strings()) {
				t.Errorf("entry\n got %+v\nwant %+v", *got, want)
			}
		})
	}

	t.Run("static-entry.yaml", func(t *testing.T) {
		objs := examplesOf(s, path.Join(registrarExamples, "static-entry.yaml"))
		if len(objs) != 1 {
			t.Fatalf("%d objects, want 1", len(objs))
		}
		r, err := render.NewRenderer(render.Config{TrustDomain: spiffeid.RequireTrustDomainFromString("example.org"), ClusterName: "demo-cluster"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Static(objs[0].obj.(*v1alpha1.ClusterStaticEntry))
		if err != nil {
			t.Fatal(err)
		}
		want := &datastore.Entry{SPIFFEID: "spiffe://example.org/vm/billing", ParentID: "spiffe://example.org/spire/agent/join_token/billing-vm",
			Selectors: selectorSet(t, "unix:uid:1001"), X509SVIDTTL: 3600, DNSNames: []string{"billing.vm.example.org"}}
		if !render.Equal(got, want) {
			t.Errorf("entry\n got %+v\nwant %+v", *got, *want)
		}
	})
}

// selectorSet parses type:value selectors into a set.
func selectorSet(t *testing.T, sels ...string) selector.Set {
	t.Helper()
	out := make([]selector.Selector, 0, len(sels))
	for _, s := range sels {
		sel, err := selector.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sel)
	}
	return selector.NewSet(out...)
}
