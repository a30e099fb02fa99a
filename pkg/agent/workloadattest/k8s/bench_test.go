package k8s_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/fakekubelet"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest/k8s"
)

// BenchmarkK8sAttest measures one k8s workload attestation on a node
// running 110 pods (the kubelet's default maximum), against a real HTTP
// kubelet serving the /pods list as JSON: cgroup read and parse, pod list
// fetch and decode, pod and container lookup, selectors.
//
//   - cold: every call fetches and decodes the pod list (the pod-list cache
//     is defeated), the cost of a workload attesting alone;
//   - burst: parallel callers, as when many pods start at once; the shared
//     pod-list cache serves them.
func BenchmarkK8sAttest(b *testing.B) {
	const pods = 110
	kubelet := fakekubelet.New(b, fakekubelet.Options{})
	uid := func(i int) string { return fmt.Sprintf("6f1c2d3e-0000-4000-8000-%012d", i) }
	cid := func(i int) string { return fmt.Sprintf("%064x", i+1) }
	for i := range pods {
		kubelet.PutPod(fakekubelet.RunningPod(fmt.Sprintf("ns-%d", i%10), fmt.Sprintf("app-%d", i), uid(i), "sa", nodeName,
			map[string]string{"app": fmt.Sprintf("app-%d", i), "tier": "backend"},
			fakekubelet.Container{Name: "app", Image: "registry.example/app:1.2.3", ID: "containerd://" + cid(i)},
			fakekubelet.Container{Name: "sidecar", Image: "registry.example/sidecar:4", ID: "containerd://" + cid(1000+i)}))
	}
	// The caller is the last pod's app container.
	root := b.TempDir()
	dir := filepath.Join(root, strconv.Itoa(testPID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(containerdCgroup(uid(pods-1), cid(pods-1))), 0o644); err != nil {
		b.Fatal(err)
	}
	newAttestor := func(interval time.Duration) *k8s.Attestor {
		a, err := k8s.New(k8s.Config{
			ProcRoot:          root,
			Kubelet:           k8s.KubeletConfig{ReadOnlyPort: kubelet.Port()},
			PollRetryInterval: interval,
		})
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	ctx := context.Background()
	p := fakeProcess(b, testPID)
	check := func(b *testing.B, a *k8s.Attestor) {
		sels, err := a.Attest(ctx, p, 1000, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if !sels.Contains(k8sSel("pod-name:app-109")) {
			b.Fatalf("selectors %v lack the caller's pod", sels)
		}
	}

	b.Run("cold", func(b *testing.B) {
		// The pod list is reused for half the retry interval: 2ns makes
		// every call fetch it.
		a := newAttestor(2 * time.Nanosecond)
		check(b, a)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := a.Attest(ctx, p, 1000, 1000); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("burst", func(b *testing.B) {
		a := newAttestor(0)
		check(b, a)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := a.Attest(ctx, p, 1000, 1000); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
