package k8s_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/fakekubelet"
	"github.com/svidkit/svidkit/internal/fakeproc"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest/k8s"
	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

const testPID = 4242

// procRoot returns a fake proc tree in which process testPID has the given
// /proc/<pid>/cgroup content.
func procRoot(t *testing.T, cgroup string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, strconv.Itoa(testPID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// containerdCgroup is the cgroup v2 file of a containerd container of pod
// uid under the systemd driver.
func containerdCgroup(uid, id string) string {
	return "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
		strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + id + ".scope\n"
}

func newAttestor(t *testing.T, kubelet *fakekubelet.Kubelet, cgroup string, tune func(*k8s.Config)) *k8s.Attestor {
	t.Helper()
	cfg := k8s.Config{
		ProcRoot:          procRoot(t, cgroup),
		Kubelet:           k8s.KubeletConfig{ReadOnlyPort: kubelet.Port()},
		MaxPollAttempts:   5,
		PollRetryInterval: 10 * time.Millisecond,
	}
	if tune != nil {
		tune(&cfg)
	}
	a, err := k8s.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func attest(t *testing.T, a *k8s.Attestor) (selector.Set, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.Attest(ctx, fakeProcess(t, testPID), 1000, 1000)
}

// fakeProcess returns a handle on a fake process pid, for an attestor whose
// proc root holds that pid's cgroup. The handle's own fake tree only has
// what identifies the process.
func fakeProcess(tb testing.TB, pid int32) *procid.Process {
	tb.Helper()
	return fakeproc.Open(tb, tb.TempDir(), pid)
}

func k8sSel(value string) selector.Selector {
	return selector.Selector{Type: k8s.SelectorType, Value: value}
}

func TestAttest(t *testing.T) {
	const (
		crioUID  = "6f4dd72e-3168-4c53-a15b-7641fa245a97"
		dockerID = "08ec3671a1c9eee0647c9fa47a1bd906d0190f46dcf2dcf7ae0257465bc5b84a"
	)
	kubelet := fakekubelet.New(t, fakekubelet.Options{})
	putBillingPod(kubelet)
	kubelet.PutPod(fakekubelet.RunningPod("ingress", "envoy-5d9f7", crioUID, "envoy", nodeName, nil,
		fakekubelet.Container{Name: "envoy", Image: "docker.io/envoyproxy/envoy:v1.31.2", ID: "cri-o://" + otherID},
		fakekubelet.Container{Name: "init", Image: "busybox:1.36", ID: "cri-o://" + migrateID, Init: true}))
	kubelet.PutPod(fakekubelet.RunningPod("legacy", "docker-app", podUID[:8]+"-0000-4000-8000-000000000000", "default", nodeName, nil,
		fakekubelet.Container{Name: "app", Image: "legacy/app:3", ID: "docker://" + dockerID}))

	tests := []struct {
		name   string
		cgroup string
		want   []string
	}{
		{
			name:   "containerd cgroup v2 systemd",
			cgroup: containerdCgroup(paymentsUID, cid),
			want: []string{"ns:payments", "sa:billing", "pod-name:billing-api-7c9d8f6b5d-x2kqp", "pod-uid:" + paymentsUID,
				"node-name:" + nodeName, "pod-label:app:billing-api", "container-name:api",
				"container-image:registry.example.com/payments/billing-api:1.8.2", "pod-image-count:1"},
		},
		{
			name:   "cri-o cgroup v1 systemd",
			cgroup: v1("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(crioUID, "-", "_") + ".slice/crio-" + otherID + ".scope"),
			want:   []string{"ns:ingress", "sa:envoy", "container-name:envoy", "pod-init-image-count:1", "pod-init-image:busybox:1.36"},
		},
		{
			name:   "init container",
			cgroup: lines("0::/kubepods.slice/kubepods-pod" + strings.ReplaceAll(crioUID, "-", "_") + ".slice/crio-" + migrateID + ".scope"),
			want:   []string{"ns:ingress", "container-name:init", "container-image:busybox:1.36"},
		},
		{
			name:   "docker cgroup v1 without pod uid, found by container id",
			cgroup: v1("/docker/" + dockerID),
			want:   []string{"ns:legacy", "pod-name:docker-app", "container-name:app", "node-name:" + nodeName},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sels, err := attest(t, newAttestor(t, kubelet, tt.cgroup, nil))
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			for _, w := range tt.want {
				if !sels.Contains(k8sSel(w)) {
					t.Errorf("missing k8s:%s in %q", w, sels.Strings())
				}
			}
			for _, s := range sels {
				if s.Type != k8s.SelectorType {
					t.Errorf("selector %s is not of type k8s", s)
				}
			}
		})
	}
}

func TestAttestHostProcess(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{})
	putBillingPod(kubelet)
	for _, cg := range []string{
		lines("0::/system.slice/kubelet.service"),
		lines("0::/init.scope"),
		v1("/user.slice/user-0.slice/session-1.scope"),
	} {
		t.Run(cg, func(t *testing.T) {
			sels, err := attest(t, newAttestor(t, kubelet, cg, nil))
			if err != nil || len(sels) != 0 {
				t.Fatalf("Attest = %q, %v; want no selectors and no error", sels.Strings(), err)
			}
		})
	}
	if n := kubelet.Requests(); n != 0 {
		t.Errorf("kubelet got %d requests for host processes, want none", n)
	}
}

func TestAttestWaitsForPod(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{})
	// The kubelet lists the pod only from its fourth answer on.
	kubelet.PutPodAfter(fakekubelet.RunningPod("payments", "billing-api-7c9d8f6b5d-x2kqp", paymentsUID, "billing", nodeName, nil, billingAPI()), 3)
	a := newAttestor(t, kubelet, containerdCgroup(paymentsUID, cid), func(c *k8s.Config) { c.MaxPollAttempts = 10 })
	sels, err := attest(t, a)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	if !sels.Contains(k8sSel("sa:billing")) {
		t.Errorf("selectors %q lack k8s:sa:billing", sels.Strings())
	}
	if n := kubelet.Requests(); n != 4 {
		t.Errorf("kubelet got %d requests, want 4 (three misses, then the pod)", n)
	}
}

func TestAttestWaitsForContainer(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{})
	creating := billingAPI()
	creating.ID = "" // the kubelet has not reported the container's ID yet
	kubelet.PutPod(fakekubelet.RunningPod("payments", "billing", paymentsUID, "billing", nodeName, nil, creating))
	a := newAttestor(t, kubelet, containerdCgroup(paymentsUID, cid), func(c *k8s.Config) { c.MaxPollAttempts = 1000 })

	done := make(chan error, 1)
	go func() { _, err := attest(t, a); done <- err }()
	// Report the container once the attestor has looked at least twice.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kubelet.WaitRequests(ctx, 2); err != nil {
		t.Fatal(err)
	}
	kubelet.PutPod(fakekubelet.RunningPod("payments", "billing", paymentsUID, "billing", nodeName, nil, billingAPI()))
	if err := <-done; err != nil {
		t.Fatalf("Attest: %v", err)
	}
}

func TestAttestGivesUp(t *testing.T) {
	tests := []struct {
		name    string
		pods    []*givesUpPod
		cgroup  string
		wantIs  error
		wantMsg []string
	}{
		{
			name:    "pod never listed",
			cgroup:  containerdCgroup(paymentsUID, cid),
			wantIs:  k8s.ErrPodNotFound,
			wantMsg: []string{"pod uid " + paymentsUID, "container " + cid, "3 attempts"},
		},
		{
			name:    "container never created",
			pods:    []*givesUpPod{{uid: paymentsUID, container: fakekubelet.Container{Name: "api"}}},
			cgroup:  containerdCgroup(paymentsUID, cid),
			wantIs:  k8s.ErrContainerNotFound,
			wantMsg: []string{"pod payments/billing (uid " + paymentsUID + ") has no status for container " + cid, "3 attempts"},
		},
		{
			name:    "container of no pod",
			pods:    []*givesUpPod{{uid: paymentsUID, container: billingAPI()}},
			cgroup:  lines("0::/system.slice/docker-" + otherID + ".scope"),
			wantIs:  k8s.ErrPodNotFound,
			wantMsg: []string{"container " + otherID + " (no pod uid in its cgroup)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kubelet := fakekubelet.New(t, fakekubelet.Options{})
			for _, p := range tt.pods {
				kubelet.PutPod(fakekubelet.RunningPod("payments", "billing", p.uid, "billing", nodeName, nil, p.container))
			}
			a := newAttestor(t, kubelet, tt.cgroup, func(c *k8s.Config) { c.MaxPollAttempts = 3 })
			sels, err := attest(t, a)
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("Attest = %q, %v; want %v", sels.Strings(), err, tt.wantIs)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if n := kubelet.Requests(); n != 3 {
				t.Errorf("kubelet got %d requests, want one per attempt (3)", n)
			}
		})
	}
}

// givesUpPod is a pod listed in a TestAttestGivesUp case.
type givesUpPod struct {
	uid       string
	container fakekubelet.Container
}

func TestAttestDisableContainerSelectors(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{})
	creating := billingAPI()
	creating.ID = ""
	kubelet.PutPod(fakekubelet.RunningPod("payments", "billing", paymentsUID, "billing", nodeName, nil, creating))
	a := newAttestor(t, kubelet, containerdCgroup(paymentsUID, cid), func(c *k8s.Config) { c.DisableContainerSelectors = true })
	sels, err := attest(t, a)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	if !sels.Contains(k8sSel("sa:billing")) || !sels.Contains(k8sSel("ns:payments")) {
		t.Errorf("selectors %q lack the pod's", sels.Strings())
	}
	for _, s := range sels {
		if strings.HasPrefix(s.Value, "container-") {
			t.Errorf("container selector %s with DisableContainerSelectors", s)
		}
	}
}

func TestAttestCanceled(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{})
	a := newAttestor(t, kubelet, containerdCgroup(paymentsUID, cid), func(c *k8s.Config) {
		c.MaxPollAttempts, c.PollRetryInterval = 100, time.Hour
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.Attest(ctx, fakeProcess(t, testPID), 0, 0)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), paymentsUID) {
		t.Fatalf("Attest = %v, want DeadlineExceeded naming the pod", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Attest returned %v after its context ended", d)
	}
}

func TestAttestSharesPodList(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{})
	putBillingPod(kubelet)
	// A long retry interval gives a long cache lifetime (half of it).
	a := newAttestor(t, kubelet, containerdCgroup(paymentsUID, cid), func(c *k8s.Config) { c.PollRetryInterval = time.Minute })
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			if _, err := attest(t, a); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Attest: %v", err)
	}
	if n := kubelet.Requests(); n != 1 {
		t.Errorf("32 concurrent attestations made %d kubelet requests, want 1", n)
	}
}

func TestAttestErrors(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{Secure: true, Token: "right"})
	dir := t.TempDir()
	tests := []struct {
		name    string
		cgroup  string
		pid     int32
		tune    func(*k8s.Config)
		wantErr string
	}{
		{name: "process gone", cgroup: containerdCgroup(paymentsUID, cid), pid: testPID + 1,
			wantErr: "pid " + strconv.Itoa(testPID+1)},
		{name: "no process", cgroup: containerdCgroup(paymentsUID, cid), wantErr: "no process to attest"},
		{name: "malformed cgroup", cgroup: "garbage\n", pid: testPID, wantErr: "cgroup line 1"},
		{name: "kubelet refuses", cgroup: containerdCgroup(paymentsUID, cid), pid: testPID, wantErr: "401 Unauthorized",
			tune: func(c *k8s.Config) {
				c.Kubelet = k8s.KubeletConfig{SecurePort: kubelet.Port(), SkipVerification: true, TokenPath: writeFile(t, dir, "token", "wrong")}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAttestor(t, kubelet, tt.cgroup, tt.tune)
			var p *procid.Process
			if tt.pid != 0 {
				p = fakeProcess(t, tt.pid)
			}
			sels, err := a.Attest(context.Background(), p, 0, 0)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "k8s attestor: ") {
				t.Fatalf("Attest = %q, %v; want an error containing %q", sels.Strings(), err, tt.wantErr)
			}
		})
	}
}

// TestAttestRefusesChangedProcess: the cgroup read is of the caller only
// if the caller is still there afterwards; a pid reused by another
// process (seen here as a new start time in a fake tree without pidfds)
// is refused, whatever its cgroup says.
func TestAttestRefusesChangedProcess(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{})
	putBillingPod(kubelet)
	a := newAttestor(t, kubelet, containerdCgroup(paymentsUID, cid), nil)
	identity := t.TempDir()
	p := fakeproc.Open(t, identity, testPID)
	if _, err := a.Attest(context.Background(), p, 0, 0); err != nil {
		t.Fatalf("Attest before the pid is reused: %v", err)
	}
	fakeproc.WriteStat(t, identity, testPID, fakeproc.StartTime+100)
	sels, err := a.Attest(context.Background(), p, 0, 0)
	if !errors.Is(err, procid.ErrGone) {
		t.Fatalf("Attest after the pid was reused = %q, %v; want ErrGone", sels.Strings(), err)
	}
}

func TestNewErrors(t *testing.T) {
	_, err := k8s.New(k8s.Config{Kubelet: k8s.KubeletConfig{ReadOnlyPort: 1, SecurePort: 2}})
	if err == nil || !strings.HasPrefix(err.Error(), "k8s attestor: kubelet: ") {
		t.Fatalf("New = %v, want a kubelet configuration error", err)
	}
}
