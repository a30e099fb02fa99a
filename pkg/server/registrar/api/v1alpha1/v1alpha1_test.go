package v1alpha1_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/yaml"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// A manifest in the form SPIRE's documentation shows decodes into the
// typed resource through the scheme, every field in place.
func TestDecodeSPIREManifests(t *testing.T) {
	s, err := v1alpha1.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	dec := serializer.NewCodecFactory(s).UniversalDeserializer()
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, obj runtime.Object)
	}{
		{"cluster spiffe id", `
apiVersion: spire.spiffe.io/v1alpha1
kind: ClusterSPIFFEID
metadata:
  name: default
spec:
  spiffeIDTemplate: "spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}"
  podSelector:
    matchLabels:
      app: web
  namespaceSelector:
    matchExpressions:
    - {key: env, operator: In, values: [prod]}
  workloadSelectorTemplates: ["k8s:ns:{{ .PodMeta.Namespace }}"]
  dnsNameTemplates: ["{{ .PodMeta.Name }}.example"]
  ttl: 1h
  jwtTtl: 5m
  federatesWith: [other.org]
  hint: web
  fallback: true
  className: blue
`, func(t *testing.T, obj runtime.Object) {
			c, ok := obj.(*v1alpha1.ClusterSPIFFEID)
			if !ok {
				t.Fatalf("decoded %T", obj)
			}
			sp := c.Spec
			if sp.TTL.Hours() != 1 || sp.JWTTTL.Minutes() != 5 || !sp.Fallback || sp.ClassName != "blue" || sp.Hint != "web" ||
				sp.PodSelector.MatchLabels["app"] != "web" || len(sp.NamespaceSelector.MatchExpressions) != 1 ||
				len(sp.WorkloadSelectorTemplates) != 1 || len(sp.DNSNameTemplates) != 1 || sp.FederatesWith[0] != "other.org" {
				t.Fatalf("spec = %+v", sp)
			}
			cp := c.DeepCopy()
			cp.Spec.PodSelector.MatchLabels["app"] = "changed"
			cp.Spec.FederatesWith[0] = "changed"
			if sp.PodSelector.MatchLabels["app"] != "web" || sp.FederatesWith[0] != "other.org" {
				t.Fatal("DeepCopy shares memory with the original")
			}
		}},
		{"cluster static entry", `
apiVersion: spire.spiffe.io/v1alpha1
kind: ClusterStaticEntry
metadata:
  name: node
spec:
  spiffeID: spiffe://example.org/node
  parentID: spiffe://example.org/spire/server
  selectors: ["k8s_psat:cluster:demo"]
  x509SVIDTTL: 30m
  dnsNames: [a.example]
  storeSVID: true
`, func(t *testing.T, obj runtime.Object) {
			c, ok := obj.(*v1alpha1.ClusterStaticEntry)
			if !ok {
				t.Fatalf("decoded %T", obj)
			}
			if c.Spec.SPIFFEID != "spiffe://example.org/node" || c.Spec.X509SVIDTTL.Minutes() != 30 || !c.Spec.StoreSVID || len(c.Spec.Selectors) != 1 {
				t.Fatalf("spec = %+v", c.Spec)
			}
			cp := c.DeepCopy()
			cp.Spec.Selectors[0] = "changed"
			if c.Spec.Selectors[0] == "changed" {
				t.Fatal("DeepCopy shares memory with the original")
			}
		}},
		{"cluster federated trust domain", `
apiVersion: spire.spiffe.io/v1alpha1
kind: ClusterFederatedTrustDomain
metadata:
  name: other
spec:
  trustDomain: other.org
  bundleEndpointURL: https://other.org:8443
  bundleEndpointProfile:
    type: https_spiffe
    endpointSPIFFEID: spiffe://other.org/spire/server
`, func(t *testing.T, obj runtime.Object) {
			c, ok := obj.(*v1alpha1.ClusterFederatedTrustDomain)
			if !ok {
				t.Fatalf("decoded %T", obj)
			}
			if c.Spec.BundleEndpointProfile.Type != v1alpha1.HTTPSSPIFFEProfileType || c.Spec.BundleEndpointProfile.EndpointSPIFFEID == "" {
				t.Fatalf("spec = %+v", c.Spec)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, _, err := dec.Decode([]byte(tt.yaml), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, obj)
		})
	}
}

// Status stats marshal under spire-controller-manager's field names.
func TestStatusJSONNames(t *testing.T) {
	c := v1alpha1.ClusterSPIFFEID{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	c.Status.Stats = v1alpha1.ClusterSPIFFEIDStats{NamespacesSelected: 1, NamespacesIgnored: 2, PodsSelected: 3, PodEntryRenderFailures: 4, EntriesMasked: 5, EntriesToSet: 6, EntryFailures: 7}
	b, err := yaml.Marshal(c.Status)
	if err != nil {
		t.Fatal(err)
	}
	want := "stats:\n  entriesMasked: 5\n  entriesToSet: 6\n  entryFailures: 7\n  namespacesIgnored: 2\n  namespacesSelected: 1\n  podEntryRenderFailures: 4\n  podsSelected: 3\n"
	if string(b) != want {
		t.Fatalf("status YAML =\n%s\nwant\n%s", b, want)
	}
}
