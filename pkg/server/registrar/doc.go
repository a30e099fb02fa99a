// Package registrar registers Kubernetes workloads from inside the
// server: it watches pods, namespaces, nodes and the ClusterSPIFFEID,
// ClusterStaticEntry and ClusterFederatedTrustDomain resources (API group
// spire.spiffe.io, as spire-controller-manager) and keeps the matching
// registration entries and federation relationships in the server's own
// datastore.
//
// It is event-driven and incremental: an event enqueues only the pods (or
// the static-entry or federation set) it can affect, and a pod's
// reconciliation renders its entries (package render) and compares them
// with the registrar's own entries for that pod, held in memory after one
// read of the datastore when the registrar starts leading. It never
// re-lists entries through an API. Entries it creates carry an owner
// mark (datastore.Entry.Owner); it reads, updates and deletes only
// entries with its mark, so manual, join-token and other clusters'
// entries are never touched. Identical input renders identical entries,
// so a restart, a safety resync or a takeover by another server writes
// nothing when nothing changed.
//
// With several servers on one database, a Kubernetes Lease elects the one
// that reconciles (leader.go: client-go leaderelection's algorithm over
// the registrar's REST client, without linking the clientset); the
// others keep their
// informers warm so a takeover starts at once.
package registrar
