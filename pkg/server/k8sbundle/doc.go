// Package k8sbundle is SPIRE's "k8sbundle" notifier: it keeps one key of a
// Kubernetes ConfigMap (default spire/spire-bundle, key bundle.crt)
// holding the trust domain's X.509 authorities as PEM, so agents and other
// pods can bootstrap trust from it.
//
// Design. A Notifier follows a bundle Source (*ca.Manager is one): it
// publishes once at start and again after every change the source
// signals; signals collapse, and each publish reads the latest bundle, so
// a burst of rotations costs one write. Publishing reads the ConfigMap,
// skips the write when the key already holds the same PEM, and otherwise
// sends a JSON merge patch that touches only that key and carries the
// resourceVersion read, so two servers racing are serialised by the
// apiserver (a conflict re-reads and retries at once). The ConfigMap is
// never created: as in SPIRE, it belongs to the deployment's manifests and
// RBAC grants only get and patch. Any failure — the ConfigMap missing,
// RBAC, an unreachable apiserver — is logged and retried with capped
// exponential backoff until it succeeds or the context ends; it never
// stops the server.
package k8sbundle
