package k8s_test

import (
	"fmt"
	"os"

	"github.com/svidkit/svidkit/pkg/agent/workloadattest/k8s"
)

func Example() {
	cgroup := []byte("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod2c48913c_b29f_4b4e_9d1f_a2b6c1f0e8d4.slice/cri-containerd-b7e9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9.scope\n")
	c, ok, err := k8s.ParseCgroup(cgroup)
	if err != nil || !ok || !c.InPod() {
		fmt.Println("not in a pod", err)
		return
	}
	f, err := os.Open("testdata/pods.json") // the kubelet's /pods response
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	pods, err := k8s.DecodePodList(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	pod, ok := pods.Pod(c.PodUID)
	if !ok {
		fmt.Println("pod not known to the kubelet yet")
		return
	}
	sels, err := k8s.Selectors(pod, c.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range sels[:5] {
		fmt.Println(s)
	}
	// Output:
	// k8s:container-image:docker.io/envoyproxy/envoy:v1.31.2
	// k8s:container-image:docker.io/envoyproxy/envoy@sha256:1c3e5a7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c
	// k8s:container-name:envoy
	// k8s:node-name:worker-3.prod.example.com
	// k8s:ns:payments
}
