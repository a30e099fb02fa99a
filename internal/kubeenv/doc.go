// Package kubeenv runs a real Kubernetes control plane for tests: etcd and
// kube-apiserver as child processes on loopback, with no kubelet,
// scheduler or controller manager (controller-runtime's envtest model).
// Pods and nodes are plain API objects; service-account tokens, TokenReview,
// RBAC, watches, server-side apply and CRD schema validation are the real
// apiserver's.
//
// The two binaries are built from the Go module proxy by scripts/kubebin.sh
// (module tools/kubebin) into a cache directory outside the repository;
// Start finds them through $SVIDKIT_KUBEBIN_DIR or that directory. Without
// them a test is skipped with the command that builds them, except under
// CI=true, where it fails.
//
// Each Start gets its own etcd data directory, free loopback ports, a
// self-signed serving certificate, a fresh service-account signing key and
// a static admin token (user kubeenv-admin in system:masters, which every
// authorizer allows). Authorization mode is RBAC, so any other identity —
// a service account's token from the TokenRequest API, say — has exactly
// the permissions the test binds to it. Each process runs in its own
// process group, which Stop (and the test's cleanup) kills and reaps.
package kubeenv
