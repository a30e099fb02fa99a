package k8s_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/svidkit/svidkit/pkg/agent/workloadattest/k8s"
)

// TestParseCgroupSamples parses complete /proc/<pid>/cgroup files, one per
// runtime (containerd, CRI-O, Docker), cgroup version and driver, as they
// appear on real nodes, plus processes that are not in a pod.
func TestParseCgroupSamples(t *testing.T) {
	tests := []struct {
		file   string
		desc   string
		id     string
		podUID string
	}{
		{file: "containerd-v1-cgroupfs.txt", desc: "containerd, cgroup v1, cgroupfs driver, burstable (kubeadm, Ubuntu 18.04)",
			id: "842e7a93447c85ca4808830d41736f1a766b37bc7845b195cd6bc8a6ba8ff4df", podUID: "50c3c91f-7d5f-4f60-afc5-ca90eacd0c1c"},
		{file: "containerd-v1-systemd.txt", desc: "containerd, cgroup v1 hybrid, systemd driver, besteffort (Ubuntu 20.04)",
			id: "cf40433fd4910f6795049d33c8783d906299d02e91ee21c21dccd0e8336b4194", podUID: "e5d2f3a3-ff55-44f0-a9f7-1f6238d83a59"},
		{file: "containerd-v2-systemd.txt", desc: "containerd, cgroup v2, systemd driver, burstable (Ubuntu 22.04)",
			id: "2cf59306b51abd329a37751ac1e242f50349435b6e2e63783d5c84bb568bd604", podUID: "37969d9b-5210-4d3c-a4cc-62b18c6adfa1"},
		{file: "containerd-v2-systemd-cgroupns.txt", desc: "containerd, cgroup v2, read from an agent in its own cgroup namespace",
			id: "7c997ab8453d1c7ed0bf2bbbdbc1fb7bd25f81ee63c08c875499ea70282f9935", podUID: "da8e0ec8-60b4-41bc-a2f2-8f188ecccc26"},
		{file: "containerd-v2-cgroupfs.txt", desc: "containerd, cgroup v2, cgroupfs driver, guaranteed (k3s)",
			id: "9f2b386823928036d88bc6b020d66ac45ed669cabc96ed664bd2b8334d3c231d", podUID: "22766686-def3-42fd-aa69-883573cbc3b9"},
		{file: "crio-v1-systemd.txt", desc: "CRI-O, cgroup v1 hybrid, systemd driver, unified line on crio.service (RHEL 8)",
			id: "c65cbbab8a49429d320ac2153c63dfab4abf12b3ae85f2587484f8da921fcb8f", podUID: "18d98cd0-9e43-4006-ae89-0766634c4a80"},
		{file: "crio-v2-systemd.txt", desc: "CRI-O, cgroup v2, systemd driver, guaranteed (Fedora CoreOS)",
			id: "26425057fa586423047a17cbb6b69b839ef87d379df1e900d8f90687fef96ea0", podUID: "e0d44e86-19b9-4a9a-a746-6114c3da1d74"},
		{file: "crio-v2-systemd-nested.txt", desc: "CRI-O, cgroup v2, process in a sub-cgroup of its container",
			id: "a1fc12714030011321320204f5fa4d228171ffcf51187f4593314900a1393f5b", podUID: "d08925c3-259e-47c9-a00c-6a241b74f4b5"},
		{file: "docker-v1-cgroupfs.txt", desc: "Docker (dockershim), cgroup v1, cgroupfs driver, besteffort",
			id: "08ec3671a1c9eee0647c9fa47a1bd906d0190f46dcf2dcf7ae0257465bc5b84a", podUID: "6f4dd72e-3168-4c53-a15b-7641fa245a97"},
		{file: "docker-v1-systemd.txt", desc: "Docker (dockershim), cgroup v1, systemd driver, burstable",
			id: "da0618df06aedf9e8370133e4c5a241e5b2ff3f8ff52d0675a99d78473708f79", podUID: "f9145461-c456-4c24-a084-f26fe60e7542"},
		{file: "docker-v2-systemd.txt", desc: "Docker (cri-dockerd), cgroup v2, systemd driver, besteffort",
			id: "f164287bad476ab9b8a644ba7a0971251ccf901a499e374efc04aefae946afea", podUID: "acd6b9bf-dc50-40c1-a958-98a204bffc4d"},
		{file: "kind-v2.txt", desc: "kind node: containerd nested in a Docker container, cgroup v2",
			id: "f6f846c03c32feb637d5b15095c20b215f9bfef16e47875e146aa349d0edb716", podUID: "92580c77-e7f1-482f-a0df-2acb1e373607"},
		{file: "docker-plain-v1.txt", desc: "plain Docker container outside Kubernetes, cgroup v1",
			id: "1e7d220c6206beb6b71f0fb863dacca97d2371ebff74b9c71723e180e2a0a1de", podUID: ""},
		{file: "docker-plain-v2.txt", desc: "plain Docker container outside Kubernetes, cgroup v2",
			id: "58e54ea314b373cde240e2dd20e7f9f9f399a0dcf4bc9995e17f359e10240b70", podUID: ""},
		{file: "host-v1-systemd-service.txt", desc: "host service (kubelet.service), cgroup v1 hybrid",
			id: "", podUID: ""},
		{file: "host-v2-session.txt", desc: "host login session, cgroup v2",
			id: "", podUID: ""},
		{file: "host-v2-init.txt", desc: "host init, cgroup v2",
			id: "", podUID: ""},
	}
	files, err := filepath.Glob("testdata/cgroup/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("testdata/cgroup has %d samples, the table %d: add the new sample to the table", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join("testdata", "cgroup", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := k8s.ParseCgroup(content)
			if err != nil {
				t.Fatalf("%s: ParseCgroup: %v", tt.desc, err)
			}
			want := k8s.Container{ID: tt.id, PodUID: tt.podUID}
			if ok != (tt.id != "") || got != want {
				t.Fatalf("%s: ParseCgroup = %+v, %v; want %+v, %v", tt.desc, got, ok, want, tt.id != "")
			}
		})
	}
}
