package registrar

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// addHandlers maps watch events to the keys they affect. Events arriving
// while this server does not lead are dropped: a new session enqueues
// everything when it starts.
func (r *Registrar) addHandlers() error {
	handlers := []struct {
		in cache.SharedIndexInformer
		h  cache.ResourceEventHandler
	}{
		{r.inf.pods, cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { r.podEvent(nil, obj.(*corev1.Pod)) },
			UpdateFunc: func(old, obj any) { r.podEvent(old.(*corev1.Pod), obj.(*corev1.Pod)) },
			DeleteFunc: func(obj any) {
				if p, ok := tombstone[*corev1.Pod](obj); ok {
					r.enqueue(key{kind: kindPod, name: string(p.UID)})
				}
			},
		}},
		{r.inf.namespaces, cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { r.namespaceEvent(obj.(*corev1.Namespace).Name) },
			UpdateFunc: func(old, obj any) {
				if !labels.Equals(old.(*corev1.Namespace).Labels, obj.(*corev1.Namespace).Labels) {
					r.namespaceEvent(obj.(*corev1.Namespace).Name)
				}
			},
			DeleteFunc: func(obj any) {
				if ns, ok := tombstone[*corev1.Namespace](obj); ok {
					r.namespaceEvent(ns.Name)
				}
			},
		}},
		{r.inf.nodes, cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { r.nodeEvent(obj.(*corev1.Node).Name) },
			UpdateFunc: func(old, obj any) {
				o, n := old.(*corev1.Node), obj.(*corev1.Node)
				if o.UID != n.UID || !labels.Equals(o.Labels, n.Labels) || !labels.Equals(o.Annotations, n.Annotations) || !equality.Semantic.DeepEqual(o.Spec, n.Spec) {
					r.nodeEvent(n.Name)
				}
			},
			DeleteFunc: func(obj any) {
				if n, ok := tombstone[*corev1.Node](obj); ok {
					r.nodeEvent(n.Name)
				}
			},
		}},
	}
	if r.inf.spiffeIDs != nil {
		handlers = append(handlers, struct {
			in cache.SharedIndexInformer
			h  cache.ResourceEventHandler
		}{r.inf.spiffeIDs, cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { r.spiffeIDEvent(nil, obj.(*v1alpha1.ClusterSPIFFEID)) },
			UpdateFunc: func(old, obj any) {
				o, n := old.(*v1alpha1.ClusterSPIFFEID), obj.(*v1alpha1.ClusterSPIFFEID)
				if o.Generation != n.Generation || o.UID != n.UID {
					r.spiffeIDEvent(o, n)
				}
			},
			DeleteFunc: func(obj any) {
				if c, ok := tombstone[*v1alpha1.ClusterSPIFFEID](obj); ok {
					r.spiffeIDEvent(c, nil)
				}
			},
		}})
	}
	if r.inf.staticEntries != nil {
		handlers = append(handlers, struct {
			in cache.SharedIndexInformer
			h  cache.ResourceEventHandler
		}{r.inf.staticEntries, generationHandler[*v1alpha1.ClusterStaticEntry](func() { r.enqueue(key{kind: kindStatic}) })})
	}
	if r.inf.federations != nil {
		handlers = append(handlers, struct {
			in cache.SharedIndexInformer
			h  cache.ResourceEventHandler
		}{r.inf.federations, cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { r.enqueue(key{kind: kindFederation}) },
			UpdateFunc: func(old, obj any) {
				if old.(*v1alpha1.ClusterFederatedTrustDomain).Generation != obj.(*v1alpha1.ClusterFederatedTrustDomain).Generation {
					r.enqueue(key{kind: kindFederation})
				}
			},
			DeleteFunc: func(obj any) {
				if c, ok := tombstone[*v1alpha1.ClusterFederatedTrustDomain](obj); ok {
					if s := r.current.Load(); s != nil {
						s.federationDeleted(c)
					}
					r.enqueue(key{kind: kindFederation})
				}
			},
		}})
	}
	if r.inf.endpointSlices != nil {
		handlers = append(handlers, struct {
			in cache.SharedIndexInformer
			h  cache.ResourceEventHandler
		}{r.inf.endpointSlices, cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { r.sliceEvent(nil, obj.(*discoveryv1.EndpointSlice)) },
			UpdateFunc: func(old, obj any) { r.sliceEvent(old.(*discoveryv1.EndpointSlice), obj.(*discoveryv1.EndpointSlice)) },
			DeleteFunc: func(obj any) {
				if s, ok := tombstone[*discoveryv1.EndpointSlice](obj); ok {
					r.sliceEvent(s, nil)
				}
			},
		}})
	}
	for _, h := range handlers {
		if _, err := h.in.AddEventHandler(h.h); err != nil {
			return err
		}
	}
	return nil
}

// generationHandler enqueues through fn on add, delete, and updates that
// change the spec (the generation), not on status writes.
func generationHandler[T interface{ GetGeneration() int64 }](fn func()) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { fn() },
		UpdateFunc: func(old, obj any) {
			o, ok1 := old.(T)
			n, ok2 := obj.(T)
			if !ok1 || !ok2 || o.GetGeneration() != n.GetGeneration() {
				fn()
			}
		},
		DeleteFunc: func(any) { fn() },
	}
}

// tombstone unwraps a deleted object, which may come as
// DeletedFinalStateUnknown after a missed watch event.
func tombstone[T any](obj any) (T, bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	t, ok := obj.(T)
	return t, ok
}

// enqueue adds k to the current session's queue, if this server leads.
func (r *Registrar) enqueue(k key) {
	if s := r.current.Load(); s != nil {
		s.add(k)
	}
}

// podEvent enqueues a pod and notes when it was first seen scheduled.
func (r *Registrar) podEvent(old, pod *corev1.Pod) {
	if pod.Spec.NodeName != "" && (old == nil || old.Spec.NodeName == "") {
		r.seenMu.Lock()
		if _, ok := r.seen[string(pod.UID)]; !ok {
			r.seen[string(pod.UID)] = time.Now()
		}
		r.seenMu.Unlock()
	}
	if old != nil && old.ResourceVersion == pod.ResourceVersion {
		return // a resync of an unchanged pod
	}
	r.enqueue(key{kind: kindPod, name: string(pod.UID)})
}

// namespaceEvent enqueues the namespace's pods and every status (the
// namespace counts).
func (r *Registrar) namespaceEvent(ns string) {
	if r.current.Load() == nil {
		return
	}
	objs, _ := r.inf.pods.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	for _, o := range objs {
		r.enqueue(key{kind: kindPod, name: string(o.(*corev1.Pod).UID)})
	}
	r.enqueueAllStatus()
}

// nodeEvent enqueues the pods scheduled on node.
func (r *Registrar) nodeEvent(node string) {
	if r.current.Load() == nil {
		return
	}
	objs, _ := r.inf.pods.GetIndexer().ByIndex(podNodeIndex, node)
	for _, o := range objs {
		r.enqueue(key{kind: kindPod, name: string(o.(*corev1.Pod).UID)})
	}
}

// spiffeIDEvent enqueues the pods old or cur selects (a change of either
// can change their entries, fallbacks and masking included) and cur's
// status.
func (r *Registrar) spiffeIDEvent(old, cur *v1alpha1.ClusterSPIFFEID) {
	if r.current.Load() == nil {
		return
	}
	var cs []*render.ClusterSPIFFEID
	for _, c := range []*v1alpha1.ClusterSPIFFEID{old, cur} {
		if c != nil {
			cs = append(cs, render.CompileClusterSPIFFEID(c))
		}
	}
	for _, nsObj := range r.inf.namespaces.GetStore().List() {
		ns := nsObj.(*corev1.Namespace)
		var inNS []*render.ClusterSPIFFEID
		for _, c := range cs {
			if c.SelectsNamespace(ns) {
				inNS = append(inNS, c)
			}
		}
		if len(inNS) == 0 {
			continue
		}
		pods, _ := r.inf.pods.GetIndexer().ByIndex(cache.NamespaceIndex, ns.Name)
		for _, o := range pods {
			p := o.(*corev1.Pod)
			for _, c := range inNS {
				if c.SelectsPod(p) {
					r.enqueue(key{kind: kindPod, name: string(p.UID)})
					break
				}
			}
		}
	}
	if cur != nil {
		r.enqueue(key{kind: kindStatus, name: cur.Name})
	}
}

// sliceEvent enqueues the pods an EndpointSlice targeted or targets when
// its endpoints or service changed (their auto-populated DNS names).
func (r *Registrar) sliceEvent(old, cur *discoveryv1.EndpointSlice) {
	if r.current.Load() == nil {
		return
	}
	if old != nil && cur != nil && old.Labels[discoveryv1.LabelServiceName] == cur.Labels[discoveryv1.LabelServiceName] &&
		slices.Equal(slicePods(old), slicePods(cur)) {
		return
	}
	for _, s := range []*discoveryv1.EndpointSlice{old, cur} {
		if s == nil {
			continue
		}
		for _, uid := range slicePods(s) {
			r.enqueue(key{kind: kindPod, name: uid})
		}
	}
}

// enqueueAllStatus enqueues the status of every ClusterSPIFFEID.
func (r *Registrar) enqueueAllStatus() {
	if r.inf.spiffeIDs == nil {
		return
	}
	for _, name := range r.inf.spiffeIDs.GetStore().ListKeys() {
		r.enqueue(key{kind: kindStatus, name: name})
	}
}
