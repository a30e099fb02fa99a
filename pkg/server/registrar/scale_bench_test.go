package registrar_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
	"github.com/svidkit/svidkit/pkg/server/registrar"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// Shape of the scale benchmark's cluster.
const (
	scalePodsPerNode = 100
	scaleNamespaces  = 30
	// scaleIdle is the idle period whose CPU time is reported.
	scaleIdle = time.Minute
	// scaleTimeout bounds each phase of the scale benchmark.
	scaleTimeout = 30 * time.Minute
)

// BenchmarkRegistrarScale registers pods on pods/100 nodes, selected by
// three ClusterSPIFFEIDs, against a real kube-apiserver and SQLite, and
// reports what issue 14's closing note asks for:
//
//   - s-converge: from the registrar's start on an empty datastore (every
//     pod already in the cluster) to the datastore holding exactly the
//     expected entries; the informers' initial lists are part of it;
//   - MiB-heap-registrar and MiB-rss-registrar: heap in use (after a GC)
//     and resident memory of this process once converged, less the same
//     before the registrar started: the registrar's informer caches,
//     work queue and view of its entries;
//   - s-restart and writes-on-restart: a server restart (registrar
//     stopped, datastore closed and reopened, a new registrar started)
//     until every pod was reconciled again, and the entry writes it and
//     the idle minute after it made (target 0);
//   - cpu-s-converge: CPU time of this process while converging (the
//     figure that does not depend on how busy the machine is);
//   - cpu-s-idle-min: CPU time of this process (registrar, informers,
//     Lease renewals, datastore) over that idle minute;
//   - MiB-peak-rss-apiserver+etcd: the test cluster's peak memory.
//
// The three ClusterSPIFFEIDs: "sa" selects every pod (namespace and
// service account), "app" the pods labelled tier=web (a second entry),
// "sa-copy" the pods labelled tier=db with sa's template (an identical
// entry, masked by the older sa). Entries = 1.5 × pods. b.N is ignored:
// one run per size. The sizes are 3,000 pods (under two minutes, what
// `go tool task bench` runs) unless SVIDKIT_BENCH_REGISTRAR_PODS lists
// others, comma-separated:
//
//	SVIDKIT_BENCH_REGISTRAR_PODS=3000,30000 go test -run '^$' -bench BenchmarkRegistrarScale -benchtime 1x -timeout 60m ./pkg/server/registrar/
func BenchmarkRegistrarScale(b *testing.B) {
	sizes := []int{3000}
	if env := os.Getenv(scaleSizesEnv); env != "" {
		sizes = nil
		for f := range strings.SplitSeq(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < scalePodsPerNode {
				b.Fatalf("%s: %q is not a number of pods (at least %d)", scaleSizesEnv, f, scalePodsPerNode)
			}
			sizes = append(sizes, n)
		}
	}
	for _, pods := range sizes {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			benchScale(b, pods)
		})
	}
}

// scaleSizesEnv lists BenchmarkRegistrarScale's sizes (numbers of pods).
const scaleSizesEnv = "SVIDKIT_BENCH_REGISTRAR_PODS"

func benchScale(b *testing.B, pods int) {
	c := startCluster(b)
	const class = "scale"
	want, rate := c.scaleCluster(b, class, pods)
	b.Logf("%d pods on %d nodes created (%.0f/s); %d entries expected", pods, pods/scalePodsPerNode, rate, len(want))
	b.ReportMetric(rate, "pods-created/s")

	dbPath := filepath.Join(b.TempDir(), "datastore.sqlite3")
	store := openScaleStore(b, dbPath)
	heap0, rss0 := heapInUseMiB(), benchmetric.ProcStatusMiB(b, os.Getpid(), "VmRSS:")

	start, cpu0 := time.Now(), benchmetric.ProcCPU(b, os.Getpid())
	stop := run(b, scaleConfig(c, store, class, prometheus.NewRegistry()))
	waitScale(b, store, "every entry", func() bool { return int(store.creates.Load()) >= len(want) })
	converged, convergeCPU := time.Since(start), benchmetric.ProcCPU(b, os.Getpid())-cpu0
	got, err := store.ListEntries(b.Context(), podOwned(class))
	if err != nil {
		b.Fatal(err)
	}
	if ids := ids(got); !slices.Equal(ids, want) {
		b.Fatalf("converged to %d entries, want %d", len(ids), len(want))
	}
	heap1, rss1 := heapInUseMiB(), benchmetric.ProcStatusMiB(b, os.Getpid(), "VmRSS:")
	b.ReportMetric(converged.Seconds(), "s-converge")
	b.ReportMetric(convergeCPU.Seconds(), "cpu-s-converge")
	b.ReportMetric(heap1-heap0, "MiB-heap-registrar")
	b.ReportMetric(rss1-rss0, "MiB-rss-registrar")

	// A server restart: registrar stopped, datastore reopened, a new
	// registrar over the same entries.
	stop()
	if err := store.db.Close(); err != nil {
		b.Fatal(err)
	}
	store = openScaleStore(b, dbPath)
	rev0, err := store.EntriesRevision(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	start = time.Now()
	run(b, scaleConfig(c, store, class, reg))
	waitReconciled(b, reg, pods)
	b.ReportMetric(time.Since(start).Seconds(), "s-restart")

	cpu0 = benchmetric.ProcCPU(b, os.Getpid())
	idle := time.NewTimer(scaleIdle)
	<-idle.C
	b.ReportMetric((benchmetric.ProcCPU(b, os.Getpid()) - cpu0).Seconds(), "cpu-s-idle-min")
	rev1, err := store.EntriesRevision(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(rev1-rev0), "writes-on-restart")
	var hwm float64
	for _, pid := range c.env.PIDs() {
		hwm += benchmetric.ProcStatusMiB(b, pid, "VmHWM:")
	}
	b.ReportMetric(hwm, "MiB-peak-rss-apiserver+etcd")
}

// scaleCluster creates the benchmark's namespaces, nodes, ClusterSPIFFEIDs
// and pods, and returns the SPIFFE IDs of the entries expected, sorted,
// and the rate at which the pods were created.
func (c *cluster) scaleCluster(b *testing.B, class string, pods int) (want []string, podsPerSecond float64) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"bench": class}}
	for i := range scaleNamespaces {
		c.namespace(b, fmt.Sprintf("%s-%02d", class, i), map[string]string{"bench": class})
	}
	nodes := pods / scalePodsPerNode
	parallel(b, nodes, func(ctx context.Context, i int) error {
		_, err := c.kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%03d", i)}}, metav1.CreateOptions{})
		return err
	})
	// Created in this order, so sa is older than sa-copy and masks it.
	for _, s := range []struct {
		name, template, tier string
	}{
		{"sa", nsSA, ""},
		{"app", "spiffe://{{ .TrustDomain }}/app/{{ index .PodMeta.Labels \"app\" }}", "web"},
		{"sa-copy", nsSA, "db"},
	} {
		spec := v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: s.template, NamespaceSelector: sel}
		if s.tier != "" {
			spec.PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": s.tier}}
		}
		c.spiffeID(b, s.name, spec)
	}
	for i := range pods {
		ns, app := scalePod(class, i)
		want = append(want, "spiffe://example.org/ns/"+ns+"/sa/"+app)
		if i%2 == 0 {
			want = append(want, "spiffe://example.org/app/"+app)
		}
	}
	started := time.Now()
	parallel(b, pods, func(ctx context.Context, i int) error {
		ns, app := scalePod(class, i)
		tier := [...]string{"web", "db", "web", ""}[i%4]
		p := newPod(ns, fmt.Sprintf("p-%05d", i), fmt.Sprintf("node-%03d", i%nodes), map[string]string{"app": app, "tier": tier})
		p.Spec.ServiceAccountName = app
		_, err := c.kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		return err
	})
	slices.Sort(want)
	return want, float64(pods) / time.Since(started).Seconds()
}

// scalePod returns pod i's namespace and app (its service account too):
// ten pods per app, as replicas of a deployment.
func scalePod(class string, i int) (ns, app string) {
	return fmt.Sprintf("%s-%02d", class, i%scaleNamespaces), fmt.Sprintf("app-%04d", i/10)
}

// parallel runs fn for 0..n-1 on 64 goroutines and fails b on the first
// error.
func parallel(b *testing.B, n int, fn func(ctx context.Context, i int) error) {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), scaleTimeout)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := fn(ctx, i); err != nil {
					select {
					case errs <- err:
					default:
					}
					cancel()
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// scaleConfig is a registrar with the production defaults (Lease timings,
// status delay, workers) and its own metrics registry.
func scaleConfig(c *cluster, store registrar.Store, class string, reg *prometheus.Registry) registrar.Config {
	cfg := c.registrarConfig(store, class, class)
	cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod, cfg.StatusDelay = 0, 0, 0, 0
	cfg.Registerer = reg
	return cfg
}

// countingStore counts the entry creations of a notifyingStore over
// SQLite.
type countingStore struct {
	*notifyingStore
	db      *sqlite.Store
	creates atomic.Int64
}

func (s *countingStore) CreateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error) {
	out, err := s.notifyingStore.CreateEntry(ctx, e)
	if err == nil {
		s.creates.Add(1)
	}
	return out, err
}

func openScaleStore(b *testing.B, path string) *countingStore {
	b.Helper()
	s, err := sqlite.Open(b.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return &countingStore{notifyingStore: &notifyingStore{Store: s}, db: s}
}

// waitScale waits up to scaleTimeout until ok holds, re-checking after
// every entry write.
func waitScale(b *testing.B, s *countingStore, what string, ok func() bool) {
	b.Helper()
	deadline := time.After(scaleTimeout)
	for {
		ch := s.changed()
		if ok() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			b.Fatalf("timed out waiting for %s (%d entries created)", what, s.creates.Load())
		}
	}
}

// waitReconciled waits until a registrar that writes nothing has
// reconciled every pod once and emptied its queue, as its metrics say.
// With no write to wait on, it reads them every 100 ms.
func waitReconciled(b *testing.B, reg *prometheus.Registry, pods int) {
	b.Helper()
	deadline := time.After(scaleTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		reconciled, depth := registrarProgress(b, reg)
		if reconciled >= uint64(pods) && depth == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			b.Fatalf("timed out waiting for the restarted registrar: %d of %d pods reconciled, queue depth %v", reconciled, pods, depth)
		}
	}
}

// registrarProgress returns how many pod reconciliations the registrar
// has finished and its queue depth.
func registrarProgress(b *testing.B, reg *prometheus.Registry) (reconciled uint64, depth float64) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	depth = -1
	for _, mf := range mfs {
		switch mf.GetName() {
		case "svidkit_registrar_reconcile_duration_seconds":
			for _, m := range mf.GetMetric() {
				if labelValue(m, "kind") == "pod" {
					reconciled = m.GetHistogram().GetSampleCount()
				}
			}
		case "svidkit_registrar_queue_depth":
			depth = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return reconciled, depth
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// heapInUseMiB returns the heap in use after a garbage collection.
func heapInUseMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}
