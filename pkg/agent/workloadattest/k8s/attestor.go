package k8s

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

// Attestor defaults for zero Config fields.
const (
	DefaultProcRoot = "/proc"
	// DefaultMaxPollAttempts and DefaultPollRetryInterval bound how long a
	// workload whose pod or container the kubelet does not list yet is
	// waited for: 20 × 250 ms = 5 s. The kubelet reports a new container's
	// ID a moment after the process starts, usually well under a second
	// but a few seconds on a busy node. SPIRE waits up to 60 × 500 ms; a
	// Workload API client retries failed calls anyway, and a shorter wait
	// frees the call sooner for a process that will never be listed.
	DefaultMaxPollAttempts   = 20
	DefaultPollRetryInterval = 250 * time.Millisecond
)

// ErrPodNotFound reports that the kubelet does not list the pod (or, for a
// container whose cgroup names no pod, any pod) of the caller.
var ErrPodNotFound = errors.New("pod not found in the kubelet's pod list")

// Config configures an Attestor.
type Config struct {
	// ProcRoot is where the proc filesystem is mounted; "/proc" when empty.
	// The agent needs the host's PID namespace (hostPID) to see workloads.
	ProcRoot string
	// Kubelet says how to reach this node's kubelet.
	Kubelet KubeletConfig
	// MaxPollAttempts is how many times the kubelet's pod list is searched
	// for the caller before attestation fails; DefaultMaxPollAttempts when
	// zero or negative (SPIRE's max_poll_attempts).
	MaxPollAttempts int
	// PollRetryInterval is the wait between searches;
	// DefaultPollRetryInterval when zero or negative (SPIRE's
	// poll_retry_interval).
	PollRetryInterval time.Duration
	// DisableContainerSelectors drops the container-name and
	// container-image selectors, and lets a caller whose pod is listed but
	// whose container has no status yet attest with the pod's selectors
	// (SPIRE's disable_container_selectors).
	DisableContainerSelectors bool
	// Log receives debug messages about retries; slog.Default() when nil.
	Log *slog.Logger
}

// Attestor is the "k8s" workload attestor. It implements
// workloadapi.Attestor and is safe for concurrent use.
type Attestor struct {
	procRoot    string
	pods        *podCache
	kubeletURL  string
	attempts    int
	interval    time.Duration
	noContainer bool
	log         *slog.Logger
}

// New returns an Attestor with the defaults filled in. It fails when the
// kubelet configuration is unusable (conflicting ports, unreadable CA or
// token).
func New(cfg Config) (*Attestor, error) {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = DefaultProcRoot
	}
	if cfg.MaxPollAttempts <= 0 {
		cfg.MaxPollAttempts = DefaultMaxPollAttempts
	}
	if cfg.PollRetryInterval <= 0 {
		cfg.PollRetryInterval = DefaultPollRetryInterval
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	kubelet, err := NewKubelet(cfg.Kubelet)
	if err != nil {
		return nil, fmt.Errorf("k8s attestor: %w", err)
	}
	return &Attestor{
		procRoot: cfg.ProcRoot,
		// Half the retry interval, as SPIRE: a retry always sees a list
		// fetched after the previous search.
		pods:        &podCache{fetch: kubelet.Pods, ttl: cfg.PollRetryInterval / 2, now: time.Now},
		kubeletURL:  kubelet.URL(),
		attempts:    cfg.MaxPollAttempts,
		interval:    cfg.PollRetryInterval,
		noContainer: cfg.DisableContainerSelectors,
		log:         cfg.Log,
	}, nil
}

// Attest returns the k8s selectors of process p. A process outside any
// container (in the host's namespaces) gets no selectors and no error, so
// node-level programs still attest with other attestors' selectors. A
// container the kubelet does not list yet is searched for again every
// PollRetryInterval, at most MaxPollAttempts times; then Attest fails
// with ErrPodNotFound or ErrContainerNotFound. It fails with an error
// wrapping procid.ErrGone or procid.ErrExeChanged when the process is no
// longer the one p identified. The uid and gid are not used.
func (a *Attestor) Attest(ctx context.Context, p *procid.Process, _, _ uint32) (selector.Set, error) {
	if p == nil {
		return nil, errors.New("k8s attestor: no process to attest")
	}
	pid := p.PID()
	content, err := os.ReadFile(filepath.Join(a.procRoot, strconv.Itoa(int(pid)), "cgroup"))
	// The cgroup read is of the process that connected only if it is still
	// there; a pid reused meanwhile could name another pod's process.
	if verr := p.Verify(); verr != nil {
		return nil, fmt.Errorf("k8s attestor: %w", verr)
	}
	if err != nil {
		return nil, fmt.Errorf("k8s attestor: pid %d: %w", pid, err)
	}
	c, ok, err := ParseCgroup(content)
	if err != nil {
		return nil, fmt.Errorf("k8s attestor: pid %d: %w", pid, err)
	}
	if !ok {
		return nil, nil
	}
	for attempt := 1; ; attempt++ {
		pods, err := a.pods.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("k8s attestor: pid %d: %w", pid, err)
		}
		sels, err := a.selectors(pods, c)
		if err == nil {
			return sels, nil
		}
		if !errors.Is(err, ErrPodNotFound) && !errors.Is(err, ErrContainerNotFound) {
			return nil, fmt.Errorf("k8s attestor: pid %d: %w", pid, err)
		}
		if attempt >= a.attempts {
			return nil, fmt.Errorf("k8s attestor: pid %d: %w (kubelet %s, %d attempts over %v)",
				pid, err, a.kubeletURL, attempt, time.Duration(attempt-1)*a.interval)
		}
		a.log.Debug("k8s attestor: caller not in the kubelet's pod list yet; retrying",
			"pid", pid, "pod_uid", c.PodUID, "container_id", c.ID, "attempt", attempt, "error", err)
		t := time.NewTimer(a.interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("k8s attestor: pid %d: waiting for the kubelet to list it: %w (last: %v)", pid, ctx.Err(), err)
		}
	}
}

// selectors finds c in pods and returns its selectors, or an error wrapping
// ErrPodNotFound or ErrContainerNotFound when it is not listed (yet).
func (a *Attestor) selectors(pods *PodList, c Container) (selector.Set, error) {
	pod, status, err := find(pods, c)
	if err != nil {
		return nil, err
	}
	switch {
	case status == nil && a.noContainer && c.InPod():
		return PodSelectors(pod), nil
	case status == nil:
		return nil, fmt.Errorf("pod %s/%s (uid %s) has no status for container %s: %w",
			pod.Metadata.Namespace, pod.Metadata.Name, pod.Metadata.UID, c.ID, ErrContainerNotFound)
	case a.noContainer:
		return PodSelectors(pod), nil
	default:
		return Selectors(pod, c.ID)
	}
}

// find returns c's pod and, when listed, its container status. A cgroup
// that names its pod is looked up by pod UID; one that does not (a runtime
// whose cgroup layout hides the pod) by container ID across all pods.
func find(pods *PodList, c Container) (*Pod, *ContainerStatus, error) {
	if c.InPod() {
		pod, ok := pods.Pod(c.PodUID)
		if !ok {
			return nil, nil, fmt.Errorf("pod uid %s (container %s): %w", c.PodUID, c.ID, ErrPodNotFound)
		}
		status, _ := pod.ContainerStatus(c.ID)
		return pod, status, nil
	}
	var (
		found  *Pod
		status *ContainerStatus
	)
	for i := range pods.Items {
		p := &pods.Items[i]
		s, ok := p.ContainerStatus(c.ID)
		if !ok {
			continue
		}
		if found != nil {
			return nil, nil, fmt.Errorf("container %s is listed in two pods, %s/%s and %s/%s",
				c.ID, found.Metadata.Namespace, found.Metadata.Name, p.Metadata.Namespace, p.Metadata.Name)
		}
		found, status = p, s
	}
	if found == nil {
		return nil, nil, fmt.Errorf("container %s (no pod uid in its cgroup): %w", c.ID, ErrPodNotFound)
	}
	return found, status, nil
}
