package k8s_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/agent/workloadattest/k8s"
	"github.com/svidkit/svidkit/pkg/selector"
)

func loadPods(t *testing.T) *k8s.PodList {
	t.Helper()
	f, err := os.Open("testdata/pods.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := k8s.DecodePodList(f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

const (
	apiImage        = "registry.example.com/payments/billing-api:1.8.2"
	apiImageID      = "registry.example.com/payments/billing-api@sha256:9e2d4f6a8c0b1d3e5f7a9c1b3d5e7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d"
	envoyImage      = "docker.io/envoyproxy/envoy:v1.31.2"
	envoyImageID    = "docker.io/envoyproxy/envoy@sha256:1c3e5a7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c"
	migrateImage    = "registry.example.com/payments/billing-migrate:1.8.2"
	migrateImageID  = "registry.example.com/payments/billing-migrate@sha256:5b1f3c9e7d2a4b6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d"
	migrateID       = "0d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"
	etcdID          = "c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6"
	billingPodLines = `ns:payments
sa:billing
node-name:worker-3.prod.example.com
pod-name:billing-api-7c9d8f6b5d-x2kqp
pod-uid:2c48913c-b29f-4b4e-9d1f-a2b6c1f0e8d4
pod-label:app.kubernetes.io/name:billing-api
pod-label:app.kubernetes.io/part-of:payments
pod-label:pod-template-hash:7c9d8f6b5d
pod-owner:ReplicaSet:billing-api-7c9d8f6b5d
pod-owner-uid:ReplicaSet:8f0a6b1e-3c2d-4e5f-9a7b-6c5d4e3f2a1b
pod-image-count:2
pod-init-image-count:1
pod-image:` + apiImage + `
pod-image:` + apiImageID + `
pod-image:` + envoyImage + `
pod-image:` + envoyImageID + `
pod-init-image:` + migrateImage + `
pod-init-image:` + migrateImageID
)

// set builds a k8s selector set from newline-separated values.
func set(t *testing.T, values ...string) selector.Set {
	t.Helper()
	var sels []selector.Selector
	for _, v := range strings.Split(strings.Join(values, "\n"), "\n") {
		sels = append(sels, selector.Selector{Type: k8s.SelectorType, Value: v})
	}
	return selector.NewSet(sels...)
}

func TestSelectors(t *testing.T) {
	pods := loadPods(t)
	tests := []struct {
		name        string
		podUID      string
		containerID string
		want        []string
	}{
		{
			name:        "regular container",
			podUID:      podUID,
			containerID: cid,
			want: []string{billingPodLines, "container-name:api",
				"container-image:" + apiImage, "container-image:" + apiImageID},
		},
		{
			name:        "second container",
			podUID:      podUID,
			containerID: otherID,
			want: []string{billingPodLines, "container-name:envoy",
				"container-image:" + envoyImage, "container-image:" + envoyImageID},
		},
		{
			name:        "init container",
			podUID:      podUID,
			containerID: migrateID,
			want: []string{billingPodLines, "container-name:migrate",
				"container-image:" + migrateImage, "container-image:" + migrateImageID},
		},
		{
			name:        "static pod on cri-o without service account",
			podUID:      staticUID,
			containerID: etcdID,
			want: []string{
				"ns:kube-system",
				"node-name:control-plane-1",
				"pod-name:etcd-control-plane-1",
				"pod-uid:" + staticUID,
				"pod-label:component:etcd",
				"pod-label:tier:control-plane",
				"pod-owner:Node:control-plane-1",
				"pod-owner-uid:Node:d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6",
				"pod-image-count:1",
				"pod-init-image-count:0",
				"pod-image:registry.k8s.io/etcd:3.5.21-0",
				"pod-image:registry.k8s.io/etcd@sha256:d58c035df557080a27387d687092e3fc2b64c6d0e3162dc51453a115f847d121",
				"container-name:etcd",
				"container-image:registry.k8s.io/etcd:3.5.21-0",
				"container-image:registry.k8s.io/etcd@sha256:d58c035df557080a27387d687092e3fc2b64c6d0e3162dc51453a115f847d121",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, ok := pods.Pod(tt.podUID)
			if !ok {
				t.Fatalf("pod %q not in fixture", tt.podUID)
			}
			got, err := k8s.Selectors(pod, tt.containerID)
			if err != nil {
				t.Fatalf("Selectors: %v", err)
			}
			want := set(t, tt.want...)
			if !slices.Equal(got, want) {
				t.Errorf("Selectors:\n got  %q\n want %q", got.Strings(), want.Strings())
			}
			for _, s := range got {
				if err := s.Validate(); err != nil {
					t.Errorf("invalid selector: %v", err)
				}
			}
		})
	}
}

func TestSelectorsContainerNotFound(t *testing.T) {
	pods := loadPods(t)
	tests := []struct {
		name        string
		podUID      string
		containerID string
	}{
		{name: "container of another pod", podUID: podUID, containerID: etcdID},
		{name: "pending container has no id yet", podUID: "f0e1d2c3-b4a5-4968-8776-655443322110", containerID: cid},
		{name: "empty id", podUID: "f0e1d2c3-b4a5-4968-8776-655443322110", containerID: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, ok := pods.Pod(tt.podUID)
			if !ok {
				t.Fatalf("pod %q not in fixture", tt.podUID)
			}
			got, err := k8s.Selectors(pod, tt.containerID)
			if !errors.Is(err, k8s.ErrContainerNotFound) {
				t.Fatalf("Selectors = %q, %v; want ErrContainerNotFound", got.Strings(), err)
			}
		})
	}
}

func TestPodSelectorsSkipEmptyValues(t *testing.T) {
	pod, ok := loadPods(t).Pod("f0e1d2c3-b4a5-4968-8776-655443322110")
	if !ok {
		t.Fatal("pending pod not in fixture")
	}
	want := set(t,
		"ns:reports",
		"sa:default",
		"node-name:worker-3.prod.example.com",
		"pod-name:batch-report-29871440-pw8sz",
		"pod-uid:f0e1d2c3-b4a5-4968-8776-655443322110",
		"pod-owner:Job:batch-report-29871440",
		"pod-owner-uid:Job:11223344-5566-4778-899a-abbccddeeff0",
		"pod-image-count:1",
		"pod-init-image-count:0",
		"pod-image:registry.example.com/reports/nightly:2026.11", // imageID still empty
	)
	if got := k8s.PodSelectors(pod); !slices.Equal(got, want) {
		t.Errorf("PodSelectors:\n got  %q\n want %q", got.Strings(), want.Strings())
	}
}

func TestPodList(t *testing.T) {
	pods := loadPods(t)
	if n := len(pods.Items); n != 3 {
		t.Fatalf("decoded %d pods, want 3", n)
	}
	for _, uid := range []string{"", "00000000-0000-0000-0000-000000000000"} {
		if _, ok := pods.Pod(uid); ok {
			t.Errorf("Pod(%q) found a pod", uid)
		}
	}
	if _, err := k8s.DecodePodList(strings.NewReader(`{"items": [`)); err == nil {
		t.Error("DecodePodList accepted truncated JSON")
	}
}

func TestContainerStatusRuntimeID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"containerd://" + cid, cid},
		{"cri-o://" + cid, cid},
		{"docker://" + cid, cid},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := (k8s.ContainerStatus{ContainerID: tt.in}).RuntimeID(); got != tt.want {
				t.Errorf("RuntimeID = %q, want %q", got, tt.want)
			}
		})
	}
}
