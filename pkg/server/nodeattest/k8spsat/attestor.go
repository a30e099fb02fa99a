package k8spsat

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	authv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/svidkit/svidkit/pkg/server/kubeclient"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
)

// Type is the attestation data type and the plugin name, as in SPIRE.
const Type = "k8s_psat"

// Keys of the TokenReview's user.extra that bind a projected token to its
// pod and, since Kubernetes 1.30, to the pod's node.
const (
	extraPodName  = "authentication.kubernetes.io/pod-name"
	extraPodUID   = "authentication.kubernetes.io/pod-uid"
	extraNodeName = "authentication.kubernetes.io/node-name"
	extraNodeUID  = "authentication.kubernetes.io/node-uid"
)

// serviceAccountPrefix starts the username of service account tokens.
const serviceAccountPrefix = "system:serviceaccount:"

// AttestationData is the JSON payload a k8s_psat agent sends, as in SPIRE:
// {"cluster":"<name>","token":"<projected service account token>"}.
type AttestationData struct {
	Cluster string `json:"cluster"`
	Token   string `json:"token"`
}

// Attestor verifies k8s_psat attestation data. It implements
// nodeattest.Attestor.
type Attestor struct {
	cfg      Config
	clusters map[string]*cluster
}

// cluster is one configured cluster with its apiserver client.
type cluster struct {
	name            string
	client          *kubeclient.Client
	serviceAccounts map[string]bool
	audience        []string
	nodeLabelKeys   map[string]bool
	podLabelKeys    map[string]bool
}

// New validates cfg and builds each cluster's apiserver client.
func New(cfg Config) (*Attestor, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	a := &Attestor{cfg: cfg, clusters: make(map[string]*cluster, len(cfg.Clusters))}
	for _, name := range sortedKeys(cfg.Clusters) {
		cc := cfg.Clusters[name]
		cs, err := kubeclient.New(cc.KubeConfigFile)
		if err != nil {
			return nil, fmt.Errorf("k8spsat: cluster %q: %w", name, err)
		}
		aud := cc.Audience
		if aud == nil {
			aud = DefaultAudience
		}
		a.clusters[name] = &cluster{
			name:            name,
			client:          cs,
			serviceAccounts: setOf(cc.ServiceAccountAllowList),
			audience:        slices.Clone(aud),
			nodeLabelKeys:   setOf(cc.AllowedNodeLabelKeys),
			podLabelKeys:    setOf(cc.AllowedPodLabelKeys),
		}
	}
	return a, nil
}

// Type returns "k8s_psat".
func (a *Attestor) Type() string { return Type }

// Attest verifies a k8s_psat payload: the token must pass a TokenReview
// for the cluster's audiences, belong to an allowed service account, and
// be bound to a live pod (same UID) scheduled on an existing node that
// matches the token's node binding, if any.
func (a *Attestor) Attest(ctx context.Context, payload []byte) (nodeattest.Result, error) {
	var data AttestationData
	if err := json.Unmarshal(payload, &data); err != nil {
		return nodeattest.Result{}, nodeattest.Invalid("k8s_psat: payload is not the JSON {\"cluster\":...,\"token\":...}: %v", err)
	}
	switch {
	case data.Cluster == "":
		return nodeattest.Result{}, nodeattest.Invalid("k8s_psat: payload: missing cluster")
	case data.Token == "":
		return nodeattest.Result{}, nodeattest.Invalid("k8s_psat: payload: missing token")
	}
	cl, ok := a.clusters[data.Cluster]
	if !ok {
		return nodeattest.Result{}, nodeattest.Invalid("k8s_psat: cluster %q is not configured on this server (configured: %s)",
			data.Cluster, strings.Join(sortedKeys(a.clusters), ", "))
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	res, err := a.attest(ctx, cl, data.Token)
	if err != nil {
		return nodeattest.Result{}, fmt.Errorf("k8s_psat: cluster %q: %w", cl.name, err)
	}
	return res, nil
}

func (a *Attestor) attest(ctx context.Context, cl *cluster, token string) (nodeattest.Result, error) {
	user, err := cl.review(ctx, token)
	if err != nil {
		return nodeattest.Result{}, err
	}
	ns, sa, err := serviceAccount(user.Username)
	if err != nil {
		return nodeattest.Result{}, err
	}
	if !cl.serviceAccounts[ns+":"+sa] {
		return nodeattest.Result{}, nodeattest.Denied("service account %q is not in service_account_allow_list", ns+":"+sa)
	}
	podName, err := requiredExtra(user, extraPodName)
	if err != nil {
		return nodeattest.Result{}, err
	}
	podUID, err := requiredExtra(user, extraPodUID)
	if err != nil {
		return nodeattest.Result{}, err
	}

	pod, err := cl.client.GetPod(ctx, ns, podName)
	if err != nil {
		return nodeattest.Result{}, getError("pod "+ns+"/"+podName, err)
	}
	if string(pod.UID) != podUID {
		return nodeattest.Result{}, nodeattest.Denied("pod %s/%s has UID %s but the token was issued for pod UID %s (the token's pod was deleted and a new pod took its name)",
			ns, podName, pod.UID, podUID)
	}
	nodeName := pod.Spec.NodeName
	if nodeName == "" {
		return nodeattest.Result{}, nodeattest.Denied("pod %s/%s is not scheduled to a node", ns, podName)
	}
	if bound := optionalExtra(user, extraNodeName); bound != "" && bound != nodeName {
		return nodeattest.Result{}, nodeattest.Denied("token is bound to node %q but pod %s/%s runs on node %q", bound, ns, podName, nodeName)
	}
	node, err := cl.client.GetNode(ctx, nodeName)
	if err != nil {
		return nodeattest.Result{}, getError("node "+nodeName, err)
	}
	if node.UID == "" {
		return nodeattest.Result{}, fmt.Errorf("node %q has an empty UID", nodeName)
	}
	if bound := optionalExtra(user, extraNodeUID); bound != "" && bound != string(node.UID) {
		return nodeattest.Result{}, nodeattest.Denied("token is bound to node UID %s but node %q has UID %s", bound, nodeName, node.UID)
	}

	id, err := AgentID(a.cfg.TrustDomain, cl.name, string(node.UID))
	if err != nil {
		return nodeattest.Result{}, err
	}
	sels := selectors(cl, ns, sa, pod, node)
	a.cfg.Log.Debug("k8s_psat token verified", "cluster", cl.name, "service_account", ns+":"+sa,
		"pod", ns+"/"+podName, "node", nodeName, "agent_id", id.String())
	return nodeattest.Result{AgentID: id, Selectors: sels, CanReattest: true}, nil
}

// AgentID returns the agent ID SPIRE gives a k8s_psat agent:
// spiffe://<td>/spire/agent/k8s_psat/<cluster>/<node-uid>.
func AgentID(td spiffeid.TrustDomain, cluster, nodeUID string) (spiffeid.ID, error) {
	id, err := spiffeid.FromSegments(td, "spire", "agent", Type, cluster, nodeUID)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("build agent ID for cluster %q, node UID %q: %w", cluster, nodeUID, err)
	}
	return id, nil
}

// review asks the apiserver to authenticate token for the cluster's
// audiences and returns the token's user.
func (cl *cluster) review(ctx context.Context, token string) (authv1.UserInfo, error) {
	tr, err := cl.client.CreateTokenReview(ctx, &authv1.TokenReview{
		Spec: authv1.TokenReviewSpec{Token: token, Audiences: cl.audience},
	})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return authv1.UserInfo{}, fmt.Errorf("create TokenReview: the server's service account may not create tokenreviews (RBAC): %w", err)
		}
		return authv1.UserInfo{}, fmt.Errorf("create TokenReview: %w", err)
	}
	st := tr.Status
	if !st.Authenticated {
		reason := st.Error
		if reason == "" {
			reason = "no reason given"
		}
		return authv1.UserInfo{}, nodeattest.Denied("token not authenticated by the TokenReview API for audiences %q: %s", cl.audience, reason)
	}
	// An apiserver validates spec.audiences itself; check the answer too,
	// so that an authenticator that ignores audiences cannot admit a
	// token minted for another service. With no configured audience the
	// apiserver's own is accepted, as in SPIRE.
	if len(cl.audience) > 0 && !slices.ContainsFunc(st.Audiences, func(a string) bool { return slices.Contains(cl.audience, a) }) {
		return authv1.UserInfo{}, nodeattest.Denied("token audiences %q do not include any of the configured audiences %q", st.Audiences, cl.audience)
	}
	return st.User, nil
}

// serviceAccount splits a username system:serviceaccount:<ns>:<sa>.
func serviceAccount(username string) (ns, sa string, err error) {
	rest, ok := strings.CutPrefix(username, serviceAccountPrefix)
	if ok {
		ns, sa, ok = strings.Cut(rest, ":")
	}
	if !ok || ns == "" || sa == "" || strings.Contains(sa, ":") {
		return "", "", nodeattest.Denied("token user %q is not a service account (want %s<namespace>:<name>)", username, serviceAccountPrefix)
	}
	return ns, sa, nil
}

// requiredExtra returns the single value of a user.extra key that a
// projected (pod-bound) token always carries.
func requiredExtra(user authv1.UserInfo, key string) (string, error) {
	v := optionalExtra(user, key)
	if v == "" {
		return "", nodeattest.Denied("token review has no %s: the token is not bound to a pod (use a projected service account token)", key)
	}
	return v, nil
}

// optionalExtra returns the first value of a user.extra key, or "".
func optionalExtra(user authv1.UserInfo, key string) string {
	if vals := user.Extra[key]; len(vals) > 0 {
		return vals[0]
	}
	return ""
}

// getError classifies a failed GET of what: an object that does not
// exist refuses the agent; anything else is the server's problem.
func getError(what string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return nodeattest.Denied("%s of the token does not exist", what)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("get %s: the server's service account may not read it (RBAC): %w", what, err)
	}
	return fmt.Errorf("get %s: %w", what, err)
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, v := range list {
		m[v] = true
	}
	return m
}

// compile-time check that Attestor is a nodeattest.Attestor.
var _ nodeattest.Attestor = (*Attestor)(nil)
