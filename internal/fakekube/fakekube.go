// Package fakekube is an in-process kube-apiserver for tests. It serves,
// over TLS with bearer-token authentication, just the endpoints svidkit's
// server plugins call — TokenReview creation, pod, node and ConfigMap
// reads, and ConfigMap merge patches — speaking the real JSON: request and
// response bodies are k8s.io/api types encoded with encoding/json, and
// errors are metav1.Status objects, so client-go decodes them as it does
// a real apiserver's. Kubeconfig writes a kubeconfig file for client-go.
package fakekube

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// bearer is the credential the kubeconfig carries and the server demands.
const bearer = "fakekube-admin-token"

// Token is what the fake TokenReview API knows about one token.
type Token struct {
	// Audiences are the token's aud claim. A review whose spec.audiences
	// share none of them is unauthenticated, as with a real apiserver.
	Audiences []string
	// User is returned in status.user when the token authenticates.
	User authv1.UserInfo
	// IgnoreAudiences makes the review authenticate the token whatever
	// spec.audiences says and report the token's own audiences, as an
	// authenticator that does not implement audiences would.
	IgnoreAudiences bool
}

// Server is a fake kube-apiserver. Its methods are safe for concurrent use
// with the requests it serves.
type Server struct {
	srv *httptest.Server

	mu         sync.Mutex
	tokens     map[string]Token
	pods       map[string]*corev1.Pod
	nodes      map[string]*corev1.Node
	configMaps map[string]*corev1.ConfigMap
	reviews    []authv1.TokenReviewSpec
	requests   int
	failures   int
	failing    bool
	conflicts  int
	version    int
}

// New starts a fake apiserver, stopped when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		tokens:     make(map[string]Token),
		pods:       make(map[string]*corev1.Pod),
		nodes:      make(map[string]*corev1.Node),
		configMaps: make(map[string]*corev1.ConfigMap),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apis/authentication.k8s.io/v1/tokenreviews", s.tokenReview)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}", s.getPod)
	mux.HandleFunc("GET /api/v1/nodes/{name}", s.getNode)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/configmaps/{name}", s.getConfigMap)
	mux.HandleFunc("PATCH /api/v1/namespaces/{ns}/configmaps/{name}", s.patchConfigMap)
	s.srv = httptest.NewTLSServer(s.authenticate(mux))
	t.Cleanup(s.srv.Close)
	return s
}

// Kubeconfig writes a kubeconfig file for the server into dir (trusting
// its certificate and carrying its bearer token) and returns its path.
func (s *Server) Kubeconfig(t testing.TB, dir string) string {
	t.Helper()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["fake"] = &clientcmdapi.Cluster{Server: s.srv.URL, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["svidkit-server"] = &clientcmdapi.AuthInfo{Token: bearer}
	cfg.Contexts["fake"] = &clientcmdapi.Context{Cluster: "fake", AuthInfo: "svidkit-server"}
	cfg.CurrentContext = "fake"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// AddToken makes token known to the TokenReview API.
func (s *Server) AddToken(token string, info Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = info
}

// PutPod stores a pod (replacing one of the same namespace and name).
func (s *Server) PutPod(p *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pods[p.Namespace+"/"+p.Name] = p.DeepCopy()
}

// DeletePod removes a pod.
func (s *Server) DeletePod(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pods, namespace+"/"+name)
}

// PutNode stores a node.
func (s *Server) PutNode(n *corev1.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes[n.Name] = n.DeepCopy()
}

// PutConfigMap stores a ConfigMap, giving it a new resourceVersion.
func (s *Server) PutConfigMap(cm *corev1.ConfigMap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cm = cm.DeepCopy()
	cm.ResourceVersion = s.nextVersion()
	s.configMaps[cm.Namespace+"/"+cm.Name] = cm
}

// ConfigMap returns a copy of a stored ConfigMap, or nil.
func (s *Server) ConfigMap(namespace, name string) *corev1.ConfigMap {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cm := s.configMaps[namespace+"/"+name]; cm != nil {
		return cm.DeepCopy()
	}
	return nil
}

// Reviews returns the specs of the TokenReviews received so far.
func (s *Server) Reviews() []authv1.TokenReviewSpec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reviews)
}

// SetFailing makes every request fail with 500 Internal Server Error
// until it is called with false.
func (s *Server) SetFailing(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

// ConflictNext makes the next n ConfigMap patches fail with 409 Conflict
// after bumping the ConfigMap's resourceVersion, as when another writer
// got there first.
func (s *Server) ConflictNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conflicts = n
}

// Failures returns how many requests were failed because of SetFailing.
func (s *Server) Failures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures
}

// Requests returns how many authenticated requests were received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) nextVersion() string {
	s.version++
	return strconv.Itoa(s.version)
}

// authenticate demands the kubeconfig's bearer token and applies
// SetFailing.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+bearer {
			writeStatus(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized", nil)
			return
		}
		s.mu.Lock()
		s.requests++
		failing := s.failing
		if failing {
			s.failures++
		}
		s.mu.Unlock()
		if failing {
			writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "fakekube: injected failure", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) tokenReview(w http.ResponseWriter, r *http.Request) {
	var tr authv1.TokenReview
	if err := json.NewDecoder(r.Body).Decode(&tr); err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "decode TokenReview: "+err.Error(), nil)
		return
	}
	s.mu.Lock()
	s.reviews = append(s.reviews, tr.Spec)
	info, known := s.tokens[tr.Spec.Token]
	s.mu.Unlock()

	tr.TypeMeta = metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"}
	tr.Spec.Token = "" // a real apiserver does not echo the token
	switch {
	case !known:
		tr.Status = authv1.TokenReviewStatus{Error: "[invalid bearer token, square/go-jose: error in cryptographic primitive]"}
	case info.IgnoreAudiences:
		tr.Status = authv1.TokenReviewStatus{Authenticated: true, User: info.User, Audiences: info.Audiences}
	default:
		want := tr.Spec.Audiences
		if len(want) == 0 {
			want = []string{"https://kubernetes.default.svc.cluster.local"}
		}
		var matched []string
		for _, a := range want {
			if slices.Contains(info.Audiences, a) {
				matched = append(matched, a)
			}
		}
		if len(matched) == 0 {
			tr.Status = authv1.TokenReviewStatus{Error: fmt.Sprintf("[invalid bearer token, token audiences %q is invalid for the target audiences %q]", info.Audiences, want)}
		} else {
			tr.Status = authv1.TokenReviewStatus{Authenticated: true, User: info.User, Audiences: matched}
		}
	}
	writeJSON(w, http.StatusCreated, &tr)
}

func (s *Server) getPod(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	serveObject(w, "pods", name, "Pod", copyOf(s, func() *corev1.Pod { return s.pods[ns+"/"+name] }))
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	serveObject(w, "nodes", name, "Node", copyOf(s, func() *corev1.Node { return s.nodes[name] }))
}

func (s *Server) getConfigMap(w http.ResponseWriter, r *http.Request) {
	serveObject(w, "configmaps", r.PathValue("name"), "ConfigMap", s.ConfigMap(r.PathValue("ns"), r.PathValue("name")))
}

// copyOf returns a deep copy of what get returns under the lock, or nil.
func copyOf[T interface{ DeepCopy() T }](s *Server, get func() T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var zero T
	if obj := get(); any(obj) != any(zero) {
		return obj.DeepCopy()
	}
	return zero
}

// serveObject writes obj as a core/v1 kind, or the apiserver's NotFound
// status when it is nil.
func serveObject[T interface {
	*corev1.Pod | *corev1.Node | *corev1.ConfigMap
}](w http.ResponseWriter, resource, name, kind string, obj T) {
	if obj == nil {
		writeNotFound(w, resource, name)
		return
	}
	type typed interface{ GetObjectKind() schema.ObjectKind }
	any(obj).(typed).GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: kind})
	writeJSON(w, http.StatusOK, obj)
}

// patchConfigMap applies a JSON merge patch (RFC 7386) to a ConfigMap.
// A metadata.resourceVersion in the patch must match the stored one, as
// the apiserver's optimistic concurrency demands.
func (s *Server) patchConfigMap(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/merge-patch+json") {
		writeStatus(w, http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType, "fakekube supports only merge patches, got "+ct, nil)
		return
	}
	var patch map[string]any
	if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "decode patch: "+err.Error(), nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cm := s.configMaps[ns+"/"+name]
	if cm == nil {
		writeNotFound(w, "configmaps", name)
		return
	}
	if s.conflicts > 0 {
		s.conflicts--
		cm.ResourceVersion = s.nextVersion()
	}
	if md, ok := patch["metadata"].(map[string]any); ok {
		if rv, ok := md["resourceVersion"].(string); ok && rv != cm.ResourceVersion {
			writeStatus(w, http.StatusConflict, metav1.StatusReasonConflict,
				fmt.Sprintf("Operation cannot be fulfilled on configmaps %q: the object has been modified; please apply your changes to the latest version and try again", name),
				&metav1.StatusDetails{Name: name, Kind: "configmaps"})
			return
		}
	}
	current, err := json.Marshal(cm)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error(), nil)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(current, &doc); err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error(), nil)
		return
	}
	merged, err := json.Marshal(mergePatch(doc, patch))
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error(), nil)
		return
	}
	var out corev1.ConfigMap
	if err := json.Unmarshal(merged, &out); err != nil {
		writeStatus(w, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "patched object: "+err.Error(), nil)
		return
	}
	out.Namespace, out.Name = ns, name
	out.ResourceVersion = s.nextVersion()
	s.configMaps[ns+"/"+name] = &out
	resp := out.DeepCopy()
	resp.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
	writeJSON(w, http.StatusOK, resp)
}

// mergePatch applies an RFC 7386 merge patch to doc.
func mergePatch(doc, patch map[string]any) map[string]any {
	out := maps.Clone(doc)
	if out == nil {
		out = make(map[string]any)
	}
	for k, pv := range patch {
		if pv == nil {
			delete(out, k)
			continue
		}
		if pm, ok := pv.(map[string]any); ok {
			dm, _ := out[k].(map[string]any)
			out[k] = mergePatch(dm, pm)
			continue
		}
		out[k] = pv
	}
	return out
}

func writeNotFound(w http.ResponseWriter, resource, name string) {
	writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound,
		fmt.Sprintf("%s %q not found", resource, name), &metav1.StatusDetails{Name: name, Kind: resource})
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string, details *metav1.StatusDetails) {
	writeJSON(w, code, &metav1.Status{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reason, Details: details, Code: int32(code),
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// BoundUser returns the user a projected service account token of pod
// authenticates as: system:serviceaccount:<ns>:<sa>, with the pod binding
// in user.extra and, when node is non-nil, the node binding Kubernetes
// 1.30 and later add.
func BoundUser(pod *corev1.Pod, node *corev1.Node) authv1.UserInfo {
	u := authv1.UserInfo{
		Username: "system:serviceaccount:" + pod.Namespace + ":" + pod.Spec.ServiceAccountName,
		UID:      "sa-uid-" + pod.Spec.ServiceAccountName,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + pod.Namespace, "system:authenticated"},
		Extra: map[string]authv1.ExtraValue{
			"authentication.kubernetes.io/pod-name":      {pod.Name},
			"authentication.kubernetes.io/pod-uid":       {string(pod.UID)},
			"authentication.kubernetes.io/credential-id": {"JTI=" + string(pod.UID)},
		},
	}
	if node != nil {
		u.Extra["authentication.kubernetes.io/node-name"] = authv1.ExtraValue{node.Name}
		u.Extra["authentication.kubernetes.io/node-uid"] = authv1.ExtraValue{string(node.UID)}
	}
	return u
}
