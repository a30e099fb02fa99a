// Package k8spsat is the server side of SPIRE's k8s_psat node attestor:
// an agent proves it runs in an allowed pod of a Kubernetes cluster with a
// projected service account token (PSAT), and is issued the agent ID
// spiffe://<td>/spire/agent/k8s_psat/<cluster>/<node-uid>.
//
// Design. The token is never parsed or verified locally: the cluster's
// apiserver judges it with a TokenReview (authentication.k8s.io/v1) for
// the configured audiences, which also tells us the service account and,
// for projected tokens, the pod (and, since Kubernetes 1.30, the node) the
// token is bound to. The attestor then reads the pod and its node, so the
// agent ID is tied to the node's UID rather than to anything the agent
// claims. Each check that can refuse an agent is a nodeattest.Error of
// kind Denied (or Invalid for a malformed payload or an unknown cluster);
// apiserver outages are plain errors, so the API edge can tell a bad
// token from a server problem. A token outlives its pod by up to its
// expiry, so the pod's UID must equal the token's pod UID, and a bound
// token's node name and UID must match the pod's node: a token copied
// from one node cannot attest another or a recreated pod.
//
// Each cluster gets one kubeclient.Client, built by New (from kube_config_file or
// the in-cluster configuration), and shared by all attestations.
// Attestations are independent and safe for concurrent use.
package k8spsat
