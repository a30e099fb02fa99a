package k8s_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/agent/workloadattest/k8s"
)

const (
	cid     = "a3f1c2d4e5b6978812345678901234567890abcdefabcdefabcdefabcdefabcd"
	otherID = "b7e9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9"
	podUID  = "2c48913c-b29f-4b4e-9d1f-a2b6c1f0e8d4"
	podUIDu = "2c48913c_b29f_4b4e_9d1f_a2b6c1f0e8d4"
	// A static pod's UID is a bare hash of its manifest.
	staticUID = "6cbd7e8e6d3c0d9b2e1b4a5f6c7d8e9f"
)

// lines joins cgroup file lines the way the kernel writes them.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// v1 renders a cgroup v1 file with the usual controllers all at path.
func v1(path string) string {
	return lines(
		"12:hugetlb:"+path,
		"11:memory:"+path,
		"10:cpu,cpuacct:"+path,
		"9:pids:"+path,
		"8:devices:"+path,
		"7:net_cls,net_prio:"+path,
		"6:freezer:"+path,
		"5:blkio:"+path,
		"4:perf_event:"+path,
		"3:cpuset:"+path,
		"2:rdma:/",
		"1:name=systemd:"+path,
		"0::/",
	)
}

func TestParseCgroup(t *testing.T) {
	inPod := k8s.Container{ID: cid, PodUID: podUID}
	tests := []struct {
		name    string
		content string
		want    k8s.Container
		wantOK  bool
	}{
		{
			name:    "v1 cgroupfs containerd besteffort",
			content: v1("/kubepods/besteffort/pod" + podUID + "/" + cid),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v1 cgroupfs docker burstable",
			content: v1("/kubepods/burstable/pod" + podUID + "/" + cid),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v1 cgroupfs guaranteed has no qos level",
			content: v1("/kubepods/pod" + podUID + "/" + cid),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v1 systemd containerd burstable",
			content: v1("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUIDu + ".slice/cri-containerd-" + cid + ".scope"),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v1 systemd docker besteffort",
			content: v1("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDu + ".slice/docker-" + cid + ".scope"),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v2 systemd containerd besteffort",
			content: lines("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDu + ".slice/cri-containerd-" + cid + ".scope"),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v2 systemd crio burstable",
			content: lines("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUIDu + ".slice/crio-" + cid + ".scope"),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v2 systemd crio guaranteed",
			content: lines("0::/kubepods.slice/kubepods-pod" + podUIDu + ".slice/crio-" + cid + ".scope"),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v2 crio nested container cgroup",
			content: lines("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUIDu + ".slice/crio-" + cid + ".scope/container"),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v2 cgroupfs containerd guaranteed",
			content: lines("0::/kubepods/pod" + podUID + "/" + cid),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v2 static pod uid without dashes",
			content: lines("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + staticUID + ".slice/cri-containerd-" + cid + ".scope"),
			want:    k8s.Container{ID: cid, PodUID: staticUID}, wantOK: true,
		},
		{
			name: "v2 kind node nested in docker",
			content: lines("0::/docker/" + otherID + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" +
				podUIDu + ".slice/cri-containerd-" + cid + ".scope"),
			want: inPod, wantOK: true,
		},
		{
			name:    "v2 relative path from another cgroup namespace",
			content: lines("0::/../../kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDu + ".slice/cri-containerd-" + cid + ".scope"),
			want:    inPod, wantOK: true,
		},
		{
			name:    "v1 plain docker",
			content: v1("/docker/" + cid),
			want:    k8s.Container{ID: cid}, wantOK: true,
		},
		{
			name:    "v2 plain docker systemd",
			content: lines("0::/system.slice/docker-" + cid + ".scope"),
			want:    k8s.Container{ID: cid}, wantOK: true,
		},
		{
			name:    "v2 host init",
			content: lines("0::/init.scope"),
		},
		{
			name:    "v2 host user session",
			content: lines("0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-1f2e3d4c.scope"),
		},
		{
			name:    "v2 host service",
			content: lines("0::/system.slice/containerd.service"),
		},
		{
			name:    "v1 host",
			content: v1("/user.slice/user-1000.slice/session-3.scope"),
		},
		{
			name:    "v2 root",
			content: lines("0::/"),
		},
		{
			name:    "empty file",
			content: "",
		},
		{
			name:    "crio conmon is not a container",
			content: lines("0::/system.slice/crio-conmon-" + cid + ".scope"),
		},
		{
			name:    "pod word outside kubepods is ignored",
			content: lines("0::/system.slice/pod" + podUID + "/" + strings.Repeat("z", 64)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := k8s.ParseCgroup([]byte(tt.content))
			if err != nil {
				t.Fatalf("ParseCgroup: %v", err)
			}
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("ParseCgroup = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
			if got.InPod() != (tt.want.PodUID != "") {
				t.Errorf("InPod = %v", got.InPod())
			}
		})
	}
}

func TestParseCgroupErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{
			name:    "malformed line",
			content: lines("0::/init.scope", "garbage"),
			wantErr: "line 2",
		},
		{
			name: "lines disagree on container",
			content: lines(
				"4:memory:/kubepods/burstable/pod"+podUID+"/"+cid,
				"1:name=systemd:/kubepods/burstable/pod"+podUID+"/"+otherID,
			),
			wantErr: "disagrees",
		},
		{
			name:    "pod without container",
			content: lines("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUIDu + ".slice"),
			wantErr: podUID,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := k8s.ParseCgroup([]byte(tt.content))
			if err == nil {
				t.Fatalf("ParseCgroup = %+v, %v; want error", got, ok)
			}
			if ok || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseCgroup error = %v (ok %v); want it to mention %q", err, ok, tt.wantErr)
			}
		})
	}
}

func BenchmarkParseCgroup(b *testing.B) {
	content := []byte(v1("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUIDu + ".slice/cri-containerd-" + cid + ".scope"))
	for b.Loop() {
		if _, ok, err := k8s.ParseCgroup(content); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func FuzzParseCgroup(f *testing.F) {
	f.Add(v1("/kubepods/besteffort/pod" + podUID + "/" + cid))
	f.Add(lines("0::/kubepods.slice/kubepods-pod" + podUIDu + ".slice/crio-" + cid + ".scope"))
	f.Add(lines("0::/init.scope"))
	f.Fuzz(func(t *testing.T, content string) {
		c, ok, err := k8s.ParseCgroup([]byte(content))
		if err != nil && ok {
			t.Fatalf("ok with error %v", err)
		}
		if ok && len(c.ID) != 64 {
			t.Fatalf("ok with container ID %q", c.ID)
		}
		if !ok && c != (k8s.Container{}) {
			t.Fatalf("not ok but returned %+v", c)
		}
	})
}
