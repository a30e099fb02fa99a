package registrar_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// timingStore records when each SPIFFE ID's entry was created.
type timingStore struct {
	*notifyingStore
	mu      sync.Mutex
	created map[string]time.Time
}

func (s *timingStore) CreateEntry(ctx context.Context, e *datastore.Entry) (*datastore.Entry, error) {
	out, err := s.notifyingStore.CreateEntry(ctx, e)
	if err == nil {
		s.mu.Lock()
		s.created[out.SPIFFEID] = time.Now()
		s.mu.Unlock()
	}
	return out, err
}

// BenchmarkPodToEntry measures the time from a pod's creation request
// (with its node assigned) to its entry committed in the datastore, with
// 1 and with 100 pods created at once, against a real kube-apiserver and
// SQLite. It reports the median and 99th percentile over every pod of
// every iteration.
func BenchmarkPodToEntry(b *testing.B) {
	c := startCluster(b)
	runs := 0 // the testing package calls each sub-benchmark more than once
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			runs++
			class := fmt.Sprintf("bench-%d-%d", n, runs)
			ns := openStore(b)
			store := &timingStore{notifyingStore: ns, created: make(map[string]time.Time)}
			c.namespace(b, class, nil)
			node := c.node(b, class+"-node")
			c.spiffeID(b, class, v1alpha1.ClusterSPIFFEIDSpec{ClassName: class, SPIFFEIDTemplate: "spiffe://{{ .TrustDomain }}/pod/{{ .PodMeta.Name }}"})
			cfg := c.registrarConfig(store, class, class)
			run(b, cfg)
			// Warm up: the registrar leads and has synced before timing.
			c.pod(b, class, "warmup", node.Name, nil)
			waitStore(b, ns, "the warm-up entry", func() bool {
				store.mu.Lock()
				defer store.mu.Unlock()
				_, ok := store.created["spiffe://example.org/pod/warmup"]
				return ok
			})
			var latencies, fromAck []time.Duration
			b.ResetTimer()
			for i := range b.N {
				starts, acks := make([]time.Time, n), make([]time.Time, n)
				var wg sync.WaitGroup
				for j := range n {
					wg.Go(func() {
						starts[j] = time.Now()
						name := fmt.Sprintf("p-%d-%d", i, j)
						if _, err := c.kube.CoreV1().Pods(class).Create(context.Background(), newPod(class, name, node.Name, nil), metav1.CreateOptions{}); err != nil {
							b.Error(err)
						}
						acks[j] = time.Now()
					})
				}
				wg.Wait()
				ids := make([]string, n)
				for j := range n {
					ids[j] = fmt.Sprintf("spiffe://example.org/pod/p-%d-%d", i, j)
				}
				waitStore(b, ns, "the pods' entries", func() bool {
					store.mu.Lock()
					defer store.mu.Unlock()
					for _, id := range ids {
						if _, ok := store.created[id]; !ok {
							return false
						}
					}
					return true
				})
				store.mu.Lock()
				for j, id := range ids {
					latencies = append(latencies, store.created[id].Sub(starts[j]))
					fromAck = append(fromAck, max(0, store.created[id].Sub(acks[j])))
				}
				store.mu.Unlock()
			}
			b.StopTimer()
			slices.Sort(latencies)
			slices.Sort(fromAck)
			pct := func(ds []time.Duration, p float64) float64 {
				return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
			}
			// From the create request, and from the apiserver's answer
			// (the pod committed); the difference is the apiserver's own
			// create latency under the burst.
			b.ReportMetric(pct(latencies, 0.5), "p50-ms")
			b.ReportMetric(pct(latencies, 0.99), "p99-ms")
			b.ReportMetric(pct(fromAck, 0.5), "p50-after-create-ms")
			b.ReportMetric(pct(fromAck, 0.99), "p99-after-create-ms")
		})
	}
}
