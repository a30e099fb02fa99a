package registrar

import (
	"fmt"
	"net/http"
	"slices"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// Indexes of the pod informer.
const (
	podUIDIndex  = "uid"
	podNodeIndex = "node"
	// sliceByPodIndex indexes EndpointSlices by the UIDs of the pods
	// their endpoints target.
	sliceByPodIndex = "pod"
)

// clients are the REST clients of the two API groups watched.
type clients struct {
	core         rest.Interface // /api/v1
	discovery    rest.Interface // /apis/discovery.k8s.io/v1
	coordination rest.Interface // /apis/coordination.k8s.io/v1 (the Lease)
	spire        rest.Interface // /apis/spire.spiffe.io/v1alpha1
	http         *http.Client
}

// newClients builds typed REST clients over one scheme holding core/v1
// and spire.spiffe.io/v1alpha1 only (not client-go's clientset, whose
// scheme registers every API group; see package kubeclient).
func newClients(base *rest.Config) (*clients, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, discoveryv1.AddToScheme, coordinationv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("registrar: build scheme: %w", err)
		}
	}
	codecs := serializer.NewCodecFactory(scheme).WithoutConversion()
	httpClient, err := rest.HTTPClientFor(base)
	if err != nil {
		return nil, fmt.Errorf("registrar: build HTTP client: %w", err)
	}
	c := &clients{http: httpClient}
	for _, g := range []struct {
		apiPath string
		gv      schema.GroupVersion
		out     *rest.Interface
		// protobuf: the pods and EndpointSlices are listed and watched
		// in protobuf, which client-go decodes several times faster
		// and with less garbage than JSON (the pod list dominates a
		// start at 30,000 pods); custom resources have JSON only.
		protobuf bool
	}{
		{"/api", corev1.SchemeGroupVersion, &c.core, true},
		{"/apis", discoveryv1.SchemeGroupVersion, &c.discovery, true},
		{"/apis", coordinationv1.SchemeGroupVersion, &c.coordination, false},
		{"/apis", v1alpha1.GroupVersion, &c.spire, false},
	} {
		cfg := rest.CopyConfig(base)
		cfg.APIPath = g.apiPath
		cfg.GroupVersion = &g.gv
		cfg.NegotiatedSerializer = codecs
		if g.protobuf {
			cfg.ContentType = runtime.ContentTypeProtobuf
			cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
		}
		rc, err := rest.RESTClientForConfigAndClient(cfg, httpClient)
		if err != nil {
			return nil, fmt.Errorf("registrar: %s client: %w", g.gv, err)
		}
		*g.out = rc
	}
	return c, nil
}

// informers are the registrar's watches; the CRD ones are nil when not
// reconciled.
type informers struct {
	pods, namespaces, nodes               cache.SharedIndexInformer
	spiffeIDs, staticEntries, federations cache.SharedIndexInformer
	// endpointSlices feed autoPopulateDNSNames; watched with
	// ClusterSPIFFEIDs.
	endpointSlices cache.SharedIndexInformer
}

// all returns the informers that exist.
func (i *informers) all() []cache.SharedIndexInformer {
	var out []cache.SharedIndexInformer
	for _, in := range []cache.SharedIndexInformer{i.pods, i.namespaces, i.nodes, i.spiffeIDs, i.staticEntries, i.federations, i.endpointSlices} {
		if in != nil {
			out = append(out, in)
		}
	}
	return out
}

// named returns the informers that exist by resource name.
func (i *informers) named() map[string]cache.SharedIndexInformer {
	out := make(map[string]cache.SharedIndexInformer)
	for name, in := range map[string]cache.SharedIndexInformer{
		"pods": i.pods, "namespaces": i.namespaces, "nodes": i.nodes,
		"clusterspiffeids": i.spiffeIDs, "clusterstaticentries": i.staticEntries,
		"clusterfederatedtrustdomains": i.federations, "endpointslices": i.endpointSlices,
	} {
		if in != nil {
			out[name] = in
		}
	}
	return out
}

// newInformers creates the informers (not started). Pods are cached
// without managed fields and status, which no template sees, to keep the
// cache small.
func newInformers(c *clients, r Reconcile) (*informers, error) {
	in := &informers{}
	newInformer := func(client rest.Interface, resource string, obj runtime.Object, idx cache.Indexers) cache.SharedIndexInformer {
		lw := cache.NewListWatchFromClient(client, resource, metav1.NamespaceAll, fields.Everything())
		return cache.NewSharedIndexInformer(lw, obj, 0, idx)
	}
	in.pods = newInformer(c.core, "pods", &corev1.Pod{}, cache.Indexers{
		cache.NamespaceIndex: cache.MetaNamespaceIndexFunc,
		podUIDIndex: func(obj any) ([]string, error) {
			return []string{string(obj.(*corev1.Pod).UID)}, nil
		},
		podNodeIndex: func(obj any) ([]string, error) {
			if n := obj.(*corev1.Pod).Spec.NodeName; n != "" {
				return []string{n}, nil
			}
			return nil, nil
		},
	})
	if err := in.pods.SetTransform(slimPod); err != nil {
		return nil, fmt.Errorf("registrar: pod transform: %w", err)
	}
	in.namespaces = newInformer(c.core, "namespaces", &corev1.Namespace{}, cache.Indexers{})
	in.nodes = newInformer(c.core, "nodes", &corev1.Node{}, cache.Indexers{})
	if r.ClusterSPIFFEIDs {
		in.spiffeIDs = newInformer(c.spire, v1alpha1.ClusterSPIFFEIDResource.Resource, &v1alpha1.ClusterSPIFFEID{}, cache.Indexers{})
		in.endpointSlices = newInformer(c.discovery, "endpointslices", &discoveryv1.EndpointSlice{}, cache.Indexers{
			sliceByPodIndex: func(obj any) ([]string, error) { return slicePods(obj.(*discoveryv1.EndpointSlice)), nil },
		})
	}
	if r.ClusterStaticEntries {
		in.staticEntries = newInformer(c.spire, v1alpha1.ClusterStaticEntryResource.Resource, &v1alpha1.ClusterStaticEntry{}, cache.Indexers{})
	}
	if r.ClusterFederatedTrustDomains {
		in.federations = newInformer(c.spire, v1alpha1.ClusterFederatedTrustDomainResource.Resource, &v1alpha1.ClusterFederatedTrustDomain{}, cache.Indexers{})
	}
	for _, i := range in.all()[1:] {
		if err := i.SetTransform(dropManagedFields); err != nil {
			return nil, fmt.Errorf("registrar: transform: %w", err)
		}
	}
	return in, nil
}

// slicePods returns the UIDs of the pods an EndpointSlice targets.
func slicePods(s *discoveryv1.EndpointSlice) []string {
	var uids []string
	for _, ep := range s.Endpoints {
		if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" && ref.UID != "" {
			uids = append(uids, string(ref.UID))
		}
	}
	return uids
}

// serviceNames returns "<service>.<namespace>" of every service whose
// EndpointSlices target the pod with uid, sorted.
func (i *informers) serviceNames(uid string) []string {
	if i.endpointSlices == nil {
		return nil
	}
	objs, _ := i.endpointSlices.GetIndexer().ByIndex(sliceByPodIndex, uid)
	var names []string
	for _, o := range objs {
		s := o.(*discoveryv1.EndpointSlice)
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			names = append(names, svc+"."+s.Namespace)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// slimPod drops what no template or selector reads from a cached pod.
func slimPod(obj any) (any, error) {
	if p, ok := obj.(*corev1.Pod); ok {
		p.ManagedFields = nil
		p.Status = corev1.PodStatus{}
	}
	return obj, nil
}

// dropManagedFields drops server-side apply bookkeeping from cached
// objects.
func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
