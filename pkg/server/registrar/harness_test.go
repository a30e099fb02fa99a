package registrar_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/svidkit/svidkit/internal/kubeenv"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
	"github.com/svidkit/svidkit/pkg/server/registrar"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

// waitTimeout bounds every wait for the registrar to converge.
const waitTimeout = 30 * time.Second

// cluster is one real kube-apiserver with the registrar's CRDs.
type cluster struct {
	env   *kubeenv.Env
	kube  kubernetes.Interface
	spire rest.Interface
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	env := kubeenv.Start(t)
	env.InstallCRDs(t, crdDir)
	// The tests create pods in bursts; client-go's default client-side
	// limit (5 requests/s) would measure itself.
	env.Config.QPS, env.Config.Burst = 1000, 1000
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.APIPath = "/apis"
	cfg.GroupVersion = &v1alpha1.GroupVersion
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	spire, err := rest.RESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{env: env, kube: kube, spire: spire}
}

// notifyingStore is the real SQLite store, announcing each committed
// entry write so tests wait on an event instead of polling.
type notifyingStore struct {
	datastore.Store
	mu      sync.Mutex
	waiters []chan struct{}
	// hold, when set, injects a fault: the creation after holdAfter
	// others signals held and waits until hold is closed, so a test can
	// act while a write is in flight.
	hold, held chan struct{}
	holdAfter  int
	creates    int
}

func (s *notifyingStore) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.waiters = append(s.waiters, ch)
	return ch
}

func (s *notifyingStore) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.waiters {
		close(ch)
	}
	s.waiters = nil
}

func (s *notifyingStore) CreateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error) {
	s.mu.Lock()
	s.creates++
	wait := s.hold != nil && s.creates > s.holdAfter
	s.mu.Unlock()
	if wait {
		select {
		case s.held <- struct{}{}:
		default:
		}
		<-s.hold
	}
	defer s.notify()
	return s.Store.CreateEntry(ctx, e)
}

func (s *notifyingStore) UpdateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error) {
	defer s.notify()
	return s.Store.UpdateEntry(ctx, e)
}

func (s *notifyingStore) DeleteEntry(ctx context.Context, id string) (*datastore.Entry, error) {
	defer s.notify()
	return s.Store.DeleteEntry(ctx, id)
}

func (s *notifyingStore) CreateFederationRelationship(ctx context.Context, r *datastore.FederationRelationship) (*datastore.FederationRelationship, error) {
	defer s.notify()
	return s.Store.CreateFederationRelationship(ctx, r)
}

func (s *notifyingStore) DeleteFederationRelationship(ctx context.Context, td string) error {
	defer s.notify()
	return s.Store.DeleteFederationRelationship(ctx, td)
}

// waitStore waits until ok holds, re-checking after every write.
func waitStore(t testing.TB, s *notifyingStore, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		ch := s.changed()
		if ok() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func openStore(t testing.TB) *notifyingStore {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "datastore.sqlite3"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &notifyingStore{Store: s}
}

// waitEntries waits until the entries matching f satisfy ok, re-checking
// after every entry write.
func waitEntries(t testing.TB, s *notifyingStore, f datastore.EntryFilter, what string, ok func([]*datastore.Entry) bool) []*datastore.Entry {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		ch := s.changed()
		es, err := s.ListEntries(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		if ok(es) {
			return es
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; entries now: %s", what, dump(es))
		}
	}
}

func dump(es []*datastore.Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "\n  %s %s parent=%s sels=%v dns=%v owner=%q", e.ID, e.SPIFFEID, e.ParentID, e.Selectors.Strings(), e.DNSNames, e.Owner)
	}
	return b.String()
}

// ids returns the SPIFFE IDs of es, sorted.
func ids(es []*datastore.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.SPIFFEID
	}
	slices.Sort(out)
	return out
}

// hasIDs returns a predicate true when the entries' SPIFFE IDs are want.
func hasIDs(want ...string) func([]*datastore.Entry) bool {
	slices.Sort(want)
	return func(es []*datastore.Entry) bool { return slices.Equal(ids(es), want) }
}

// registrarConfig is a registrar of class class on store, with short
// lease timings.
func (c *cluster) registrarConfig(store registrar.Store, clusterName, class string) registrar.Config {
	return registrar.Config{
		TrustDomain:      td,
		ClusterName:      clusterName,
		ClusterDomain:    "cluster.local",
		IgnoreNamespaces: []string{"kube-system", "kube-public"},
		ClassName:        class,
		Reconcile:        registrar.Reconcile{ClusterSPIFFEIDs: true, ClusterStaticEntries: true, ClusterFederatedTrustDomains: true},
		REST:             rest.CopyConfig(c.env.Config),
		Store:            store,
		ValidateEntry:    func(e *datastore.Entry) error { return server.ValidateEntry(e, td) },
		LeaseNamespace:   metav1.NamespaceDefault,
		LeaseDuration:    3 * time.Second,
		RenewDeadline:    2 * time.Second,
		RetryPeriod:      200 * time.Millisecond,
		StatusDelay:      50 * time.Millisecond,
		Log:              slog.New(slog.DiscardHandler),
		Registerer:       prometheus.NewRegistry(),
	}
}

// run starts a registrar and returns the function that stops it and
// waits for Run to return.
func run(t testing.TB, cfg registrar.Config) (stop func()) {
	t.Helper()
	r, err := registrar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("registrar Run: %v", err)
				}
			case <-time.After(waitTimeout):
				t.Error("registrar did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// namespace creates a namespace with labels.
func (c *cluster) namespace(t testing.TB, name string, labels map[string]string) *corev1.Namespace {
	t.Helper()
	ns, err := c.kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// node creates a node.
func (c *cluster) node(t testing.TB, name string) *corev1.Node {
	t.Helper()
	n, err := c.kube.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pod creates a pod scheduled on node.
func (c *cluster) pod(t testing.TB, ns, name, node string, labels map[string]string) *corev1.Pod {
	t.Helper()
	p, err := c.kube.CoreV1().Pods(ns).Create(t.Context(), newPod(ns, name, node, labels), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newPod(ns, name, node string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:           node,
			ServiceAccountName: "sa-" + name,
			Containers:         []corev1.Container{{Name: "app", Image: "example.org/app:1"}},
		},
	}
}

// create creates a spire.spiffe.io resource.
func (c *cluster) create(t testing.TB, resource string, obj runtime.Object) {
	t.Helper()
	if err := c.spire.Post().Resource(resource).Body(obj).Do(t.Context()).Error(); err != nil {
		t.Fatalf("create %s: %v", resource, err)
	}
}

// spiffeID creates a ClusterSPIFFEID. Without a namespace selector it
// selects only the namespace named as its class (each test case's own),
// so that the cases sharing the cluster do not see each other's pods.
func (c *cluster) spiffeID(t testing.TB, name string, spec v1alpha1.ClusterSPIFFEIDSpec) {
	t.Helper()
	if spec.NamespaceSelector == nil {
		spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": spec.ClassName}}
	}
	c.create(t, "clusterspiffeids", &v1alpha1.ClusterSPIFFEID{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ClusterSPIFFEID"},
		ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec,
	})
}

// getSPIFFEID reads a ClusterSPIFFEID.
func (c *cluster) getSPIFFEID(t testing.TB, name string) *v1alpha1.ClusterSPIFFEID {
	t.Helper()
	out := &v1alpha1.ClusterSPIFFEID{}
	if err := c.spire.Get().Resource("clusterspiffeids").Name(name).Do(t.Context()).Into(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitSPIFFEIDStatus waits until the named ClusterSPIFFEID's status
// satisfies ok.
func (c *cluster) waitSPIFFEIDStatus(t testing.TB, name, what string, ok func(v1alpha1.ClusterSPIFFEIDStatus) bool) {
	t.Helper()
	c.waitResource(t, "clusterspiffeids", name, what, func() runtime.Object { return &v1alpha1.ClusterSPIFFEID{} },
		func(o runtime.Object) bool { return ok(o.(*v1alpha1.ClusterSPIFFEID).Status) })
}

// waitStaticStatus waits until the named ClusterStaticEntry's status is
// want.
func (c *cluster) waitStaticStatus(t testing.TB, name string, want v1alpha1.ClusterStaticEntryStatus) {
	t.Helper()
	c.waitResource(t, "clusterstaticentries", name, fmt.Sprintf("%+v", want), func() runtime.Object { return &v1alpha1.ClusterStaticEntry{} },
		func(o runtime.Object) bool { return o.(*v1alpha1.ClusterStaticEntry).Status == want })
}

// waitResource waits, on a watch from the version read, until the named
// spire.spiffe.io resource satisfies ok.
func (c *cluster) waitResource(t testing.TB, resource, name, what string, newObj func() runtime.Object, ok func(runtime.Object) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	cur := newObj()
	if err := c.spire.Get().Resource(resource).Name(name).Do(ctx).Into(cur); err != nil {
		t.Fatal(err)
	}
	if ok(cur) {
		return
	}
	w, err := c.spire.Get().Resource(resource).
		VersionedParams(&metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: cur.(metav1.Object).GetResourceVersion(), Watch: true}, metav1.ParameterCodec).
		Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := cur
	_, err = watchtools.UntilWithoutRetry(ctx, w, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Error {
			return false, fmt.Errorf("watch error: %v", ev.Object)
		}
		last = ev.Object
		return ok(ev.Object), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s %s: %s: %v (last %+v)", resource, name, what, err, last)
	}
}

// deleteNow deletes a pod at once, as the kubelet does once its
// containers stopped; without a kubelet a graceful delete would only mark
// the pod terminating.
var deleteNow = metav1.DeleteOptions{GracePeriodSeconds: new(int64)}
