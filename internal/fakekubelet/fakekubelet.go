// Package fakekubelet is an in-process kubelet for tests. It serves the one
// endpoint the k8s workload attestor calls, GET /pods, with the real JSON
// (a core/v1 PodList encoded from k8s.io/api types), either over plain HTTP
// as the kubelet's read-only port does, or over TLS with bearer-token or
// client-certificate authentication as its secure port does. Both listen
// on 127.0.0.1, where the attestor reaches a kubelet without a node name.
package fakekubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Options configure a Kubelet.
type Options struct {
	// Secure serves TLS with httptest's certificate (for 127.0.0.1 and
	// example.com) and demands authentication; otherwise plain HTTP
	// without authentication, like the read-only port.
	Secure bool
	// Token is the bearer token the secure port accepts; SetToken changes
	// it.
	Token string
	// ClientCAs, when set, lets clients authenticate with a certificate
	// these CAs signed instead of a token.
	ClientCAs *x509.CertPool
	// Anonymous lets unauthenticated clients list pods on the secure port
	// (a kubelet with anonymous auth enabled and permissive authorization).
	Anonymous bool
}

// Kubelet is a fake kubelet. Its methods are safe for concurrent use with
// the requests it serves.
type Kubelet struct {
	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	token    string
	pods     []*corev1.Pod
	hidden   map[types.UID]int // pod UID → requests still to answer without it
	requests int
	authz    []string      // Authorization header of each request
	answered chan struct{} // closed and replaced after each answered request
}

// New starts a fake kubelet, stopped when the test ends.
func New(t testing.TB, opts Options) *Kubelet {
	t.Helper()
	k := &Kubelet{opts: opts, token: opts.Token, hidden: make(map[types.UID]int), answered: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pods", k.listPods)
	if !opts.Secure {
		k.srv = httptest.NewServer(mux)
	} else {
		k.srv = httptest.NewUnstartedServer(mux)
		k.srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: opts.ClientCAs}
		k.srv.StartTLS()
	}
	t.Cleanup(k.srv.Close)
	return k
}

// Port is the port the kubelet listens on at 127.0.0.1.
func (k *Kubelet) Port() int {
	u, err := url.Parse(k.srv.URL)
	if err != nil {
		panic(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		panic(err)
	}
	return p
}

// WriteCA writes the PEM certificate that verifies the secure port's
// serving certificate to dir/name and returns the path.
func (k *Kubelet) WriteCA(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.srv.Certificate().Raw})
	if err := os.WriteFile(path, pemData, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// SetToken changes the bearer token the secure port accepts, as a token
// rotation does.
func (k *Kubelet) SetToken(token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.token = token
}

// PutPod adds a pod, or replaces the one with the same UID.
func (k *Kubelet) PutPod(p *corev1.Pod) { k.PutPodAfter(p, 0) }

// PutPodAfter adds a pod that the next n /pods requests do not list yet,
// as a kubelet that has not caught up with a new pod.
func (k *Kubelet) PutPodAfter(p *corev1.Pod, n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p = p.DeepCopy()
	for i, old := range k.pods {
		if old.UID == p.UID {
			k.pods[i] = p
			k.hidden[p.UID] = n
			return
		}
	}
	k.pods = append(k.pods, p)
	k.hidden[p.UID] = n
}

// DeletePod removes the pod with the given UID.
func (k *Kubelet) DeletePod(uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, p := range k.pods {
		if p.UID == uid {
			k.pods = append(k.pods[:i], k.pods[i+1:]...)
			delete(k.hidden, uid)
			return
		}
	}
}

// Requests returns how many /pods requests were answered with a list.
func (k *Kubelet) Requests() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.requests
}

// WaitRequests blocks until at least n /pods requests were answered with
// a list, or ctx ends.
func (k *Kubelet) WaitRequests(ctx context.Context, n int) error {
	for {
		k.mu.Lock()
		got, answered := k.requests, k.answered
		k.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-answered:
		case <-ctx.Done():
			return fmt.Errorf("fakekubelet: %d of %d requests: %w", got, n, ctx.Err())
		}
	}
}

// Authorizations returns the Authorization header of every request,
// authenticated or not, in order.
func (k *Kubelet) Authorizations() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.authz...)
}

func (k *Kubelet) listPods(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.authz = append(k.authz, r.Header.Get("Authorization"))
	if k.opts.Secure && !k.authenticated(r) {
		// What the kubelet's authentication filter answers.
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	k.requests++
	close(k.answered)
	k.answered = make(chan struct{})
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
	for _, p := range k.pods {
		if k.hidden[p.UID] > 0 {
			k.hidden[p.UID]--
			continue
		}
		list.Items = append(list.Items, *p)
	}
	if list.Items == nil {
		list.Items = []corev1.Pod{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&list)
}

// authenticated reports whether r carries the current token or a verified
// client certificate, or anonymous access is allowed. Called with k.mu held.
func (k *Kubelet) authenticated(r *http.Request) bool {
	switch {
	case k.opts.Anonymous:
		return true
	case r.TLS != nil && len(r.TLS.VerifiedChains) > 0:
		return true
	case k.token != "" && r.Header.Get("Authorization") == "Bearer "+k.token:
		return true
	}
	return false
}

// Container describes one container of a Pod built by RunningPod.
type Container struct {
	Name  string
	Image string
	// ImageID is the resolved image (a digest reference).
	ImageID string
	// ID is the runtime's container ID with its scheme, such as
	// "containerd://<64 hex>"; empty for a container not created yet.
	ID string
	// Init makes it an init container.
	Init bool
}

// RunningPod returns a running pod on node with the given containers, shaped
// as the kubelet reports it (spec and status both filled in).
func RunningPod(namespace, name, uid, serviceAccount, node string, labels map[string]string, containers ...Container) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: namespace,
			UID:       types.UID(uid),
			Labels:    labels,
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: serviceAccount,
			NodeName:           node,
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable},
	}
	for _, c := range containers {
		spec := corev1.Container{Name: c.Name, Image: c.Image}
		st := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.ImageID, ContainerID: c.ID}
		if c.ID != "" {
			st.State.Running = &corev1.ContainerStateRunning{}
			st.Ready = true
		} else {
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		if c.Init {
			p.Spec.InitContainers = append(p.Spec.InitContainers, spec)
			p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, st)
		} else {
			p.Spec.Containers = append(p.Spec.Containers, spec)
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, st)
		}
	}
	return p
}
