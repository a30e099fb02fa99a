package render_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

func newRenderer(t *testing.T, parentTemplate string) *render.Renderer {
	t.Helper()
	r, err := render.NewRenderer(render.Config{
		TrustDomain: td, ClusterName: "demo", ClusterDomain: "cluster.local",
		ParentIDTemplate: parentTemplate,
		Validate:         func(e *datastore.Entry) error { return server.ValidateEntry(e, td) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testPod() (*corev1.Pod, *corev1.Node) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "pod-uid-1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{ServiceAccountName: "web-sa", NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "img:1"}}},
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", UID: "node-uid-a", Labels: map[string]string{"zone": "z1"}}}
	return pod, node
}

func TestPodEntry(t *testing.T) {
	const nsSA = "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}"
	tests := []struct {
		name      string
		spec      v1alpha1.ClusterSPIFFEIDSpec
		parent    string
		services  []string
		want      datastore.Entry
		warn      bool
		errSubstr string
	}{
		{
			name: "namespace and service account",
			spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: nsSA},
			want: datastore.Entry{SPIFFEID: "spiffe://example.org/ns/shop/sa/web-sa", ParentID: "spiffe://example.org/spire/agent/k8s_psat/demo/node-uid-a"},
		},
		{
			name: "PodMeta.ServiceAccountName alias",
			spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/sa/{{ .PodMeta.ServiceAccountName }}/{{ with $.PodMeta.ServiceAccountName }}{{ . }}{{ end }}"},
			want: datastore.Entry{SPIFFEID: "spiffe://example.org/sa/web-sa/web-sa", ParentID: "spiffe://example.org/spire/agent/k8s_psat/demo/node-uid-a"},
			warn: true,
		},
		{
			name: "every field",
			spec: v1alpha1.ClusterSPIFFEIDSpec{
				SPIFFEIDTemplate:          "spiffe://{{ .TrustDomain }}/{{ .ClusterName }}/{{ index .PodMeta.Labels \"app\" }}",
				WorkloadSelectorTemplates: []string{"k8s:ns:{{ .PodMeta.Namespace }}", "k8s:node-name:{{ .PodSpec.NodeName }}"},
				DNSNameTemplates:          []string{"{{ .PodMeta.Name }}.{{ .ClusterDomain }}", "{{ .PodMeta.Name }}.{{ .ClusterDomain }}"},
				TTL:                       metav1.Duration{Duration: time.Hour}, JWTTTL: metav1.Duration{Duration: 5 * time.Minute},
				FederatesWith: []string{"spiffe://b.org", "a.org", "b.org"}, Hint: "h", Admin: true, Downstream: true,
			},
			want: datastore.Entry{
				SPIFFEID: "spiffe://example.org/demo/web", ParentID: "spiffe://example.org/spire/agent/k8s_psat/demo/node-uid-a",
				X509SVIDTTL: 3600, JWTSVIDTTL: 300, DNSNames: []string{"web-1.cluster.local"},
				FederatesWith: []string{"a.org", "b.org"}, Hint: "h", Admin: true, Downstream: true,
			},
		},
		{
			name:     "auto-populated DNS names",
			spec:     v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: nsSA, AutoPopulateDNSNames: true},
			services: []string{"web.shop"},
			want: datastore.Entry{SPIFFEID: "spiffe://example.org/ns/shop/sa/web-sa", ParentID: "spiffe://example.org/spire/agent/k8s_psat/demo/node-uid-a",
				DNSNames: []string{"web", "web.shop", "web.shop.svc", "web.shop.svc.cluster.local"}},
		},
		{
			name:   "parent ID template",
			spec:   v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: nsSA},
			parent: "spiffe://{{ .TrustDomain }}/k8s-node/{{ .NodeMeta.Name }}/{{ index .NodeMeta.Labels \"zone\" }}",
			want:   datastore.Entry{SPIFFEID: "spiffe://example.org/ns/shop/sa/web-sa", ParentID: "spiffe://example.org/k8s-node/node-a/z1"},
		},
		{name: "template does not parse", spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: "spiffe://{{ .TrustDomain"}, errSubstr: "spiffeIDTemplate"},
		{name: "missing label", spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: "spiffe://x/{{ .PodMeta.Labels.missing }}"}, errSubstr: "spiffeIDTemplate"},
		{name: "unknown field", spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: "spiffe://x/{{ .PodSpec.Nope }}"}, errSubstr: "spiffeIDTemplate"},
		{name: "invalid SPIFFE ID", spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/UPPER case"}, errSubstr: "spiffeIDTemplate"},
		{name: "foreign trust domain", spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: "spiffe://other.org/x"}, errSubstr: "trust domain"},
		{name: "selector without type", spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: nsSA, WorkloadSelectorTemplates: []string{"{{ .PodMeta.Name }}"}}, errSubstr: "workloadSelectorTemplates[0]"},
		{name: "bad DNS name", spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: nsSA, DNSNameTemplates: []string{"a b"}}, errSubstr: "dns_names"},
		{name: "bad label selector", spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: nsSA, PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bogus"}}}}, errSubstr: "podSelector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRenderer(t, tt.parent)
			pod, node := testPod()
			c := render.CompileClusterSPIFFEID(&v1alpha1.ClusterSPIFFEID{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: tt.spec})
			if got := len(c.Warnings) > 0; got != tt.warn {
				t.Errorf("warnings = %q, want some: %v", c.Warnings, tt.warn)
			}
			e, err := r.Pod(c, pod, node, tt.services)
			if tt.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(e.Selectors, func(s selector.Selector) bool { return s.Type == "k8s" && s.Value == "pod-uid:pod-uid-1" }) {
				t.Errorf("selectors %v lack k8s:pod-uid:pod-uid-1", e.Selectors)
			}
			tt.want.Selectors = e.Selectors
			if !render.Equal(e, &tt.want) {
				t.Errorf("entry =\n%+v\nwant\n%+v", *e, tt.want)
			}
			if len(tt.spec.WorkloadSelectorTemplates) > 0 && len(e.Selectors) != 1+len(tt.spec.WorkloadSelectorTemplates) {
				t.Errorf("selectors = %v", e.Selectors)
			}
		})
	}
}

func TestSelects(t *testing.T) {
	pod, _ := testPod()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"env": "prod"}}}
	tests := []struct {
		name          string
		nsSel, podSel *metav1.LabelSelector
		wantNS, wantP bool
	}{
		{"everything", nil, nil, true, true},
		{"matching labels", &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}, &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, true, true},
		{"other namespace", &metav1.LabelSelector{MatchLabels: map[string]string{"env": "dev"}}, nil, false, true},
		{"expression", nil, &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}}}}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := render.CompileClusterSPIFFEID(&v1alpha1.ClusterSPIFFEID{Spec: v1alpha1.ClusterSPIFFEIDSpec{SPIFFEIDTemplate: "x", NamespaceSelector: tt.nsSel, PodSelector: tt.podSel}})
			if got := c.SelectsNamespace(ns); got != tt.wantNS {
				t.Errorf("SelectsNamespace = %v", got)
			}
			if got := c.SelectsPod(pod); got != tt.wantP {
				t.Errorf("SelectsPod = %v", got)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	r := newRenderer(t, "")
	tests := []struct {
		name      string
		spec      v1alpha1.ClusterStaticEntrySpec
		errSubstr string
	}{
		{"valid", v1alpha1.ClusterStaticEntrySpec{SPIFFEID: "spiffe://example.org/db", ParentID: "spiffe://example.org/spire/agent/x", Selectors: []string{"unix:uid:0"}, X509SVIDTTL: metav1.Duration{Duration: time.Minute}}, ""},
		{"bad selector", v1alpha1.ClusterStaticEntrySpec{SPIFFEID: "spiffe://example.org/db", ParentID: "spiffe://example.org/x", Selectors: []string{"nocolon"}}, "selectors[0]"},
		{"bad ID", v1alpha1.ClusterStaticEntrySpec{SPIFFEID: "http://x", ParentID: "spiffe://example.org/x", Selectors: []string{"a:b"}}, "spiffe_id"},
		{"store SVID", v1alpha1.ClusterStaticEntrySpec{SPIFFEID: "spiffe://example.org/db", ParentID: "spiffe://example.org/x", Selectors: []string{"a:b"}, StoreSVID: true}, "storeSVID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := r.Static(&v1alpha1.ClusterStaticEntry{Spec: tt.spec})
			if tt.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.SPIFFEID != tt.spec.SPIFFEID || e.X509SVIDTTL != 60 || len(e.Selectors) != 1 {
				t.Fatalf("entry = %+v", e)
			}
		})
	}
}

func TestMask(t *testing.T) {
	t0 := time.Unix(1000, 0)
	entry := func(id string) *datastore.Entry {
		return &datastore.Entry{SPIFFEID: id, ParentID: "spiffe://example.org/p"}
	}
	old := render.Source{Kind: "ClusterSPIFFEID", Name: "zz-old", Created: t0}
	young := render.Source{Kind: "ClusterSPIFFEID", Name: "aa-young", Created: t0.Add(time.Second)}
	sameAge := render.Source{Kind: "ClusterSPIFFEID", Name: "zz-same", Created: t0}
	for _, order := range [][]render.Candidate{
		{{entry("spiffe://example.org/a"), young}, {entry("spiffe://example.org/a"), old}, {entry("spiffe://example.org/a"), sameAge}, {entry("spiffe://example.org/b"), young}},
		{{entry("spiffe://example.org/b"), young}, {entry("spiffe://example.org/a"), sameAge}, {entry("spiffe://example.org/a"), old}, {entry("spiffe://example.org/a"), young}},
	} {
		set, masked := render.Mask(order)
		if len(set) != 2 || set[0].Source != old || set[1].Source != young || len(masked) != 2 {
			t.Fatalf("set = %v, masked = %v", set, masked)
		}
	}
}

func TestClassMatches(t *testing.T) {
	tests := []struct {
		obj, class string
		classless  bool
		want       bool
	}{
		{"", "", false, true},
		{"blue", "", false, false},
		{"blue", "blue", false, true},
		{"", "blue", false, false},
		{"", "blue", true, true},
		{"red", "blue", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.obj+"/"+tt.class, func(t *testing.T) {
			if got := render.ClassMatches(tt.obj, tt.class, tt.classless); got != tt.want {
				t.Fatalf("ClassMatches = %v, want %v", got, tt.want)
			}
		})
	}
}
