package sds

import (
	"context"
	"crypto"
	"crypto/x509"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// SVID is one X.509-SVID the workload behind an SDS stream may present.
type SVID struct {
	ID spiffeid.ID
	// Hint tells SVIDs of one workload apart (informational).
	Hint string
	// Chain is leaf first, then intermediates.
	Chain []*x509.Certificate
	Key   crypto.Signer
}

// Snapshot is everything SDS can serve to one workload at one moment.
// A delivered Snapshot must not be modified or copied: the server keeps
// what it renders from a snapshot on the snapshot itself, shared by every
// stream that serves it.
type Snapshot struct {
	// TrustDomain is the workload's own trust domain: its bundle is the
	// default bundle (ROOTCA).
	TrustDomain spiffeid.TrustDomain
	// SVIDs in the order the Workload API gives them; the first one is the
	// default SVID. Empty means no identity is issued (yet).
	SVIDs []SVID
	// Bundles holds the own trust domain's bundle and every federated one.
	Bundles *x509bundle.Set

	// memos is filled lazily by the streams that serve this snapshot.
	memos memos
}

// Watch delivers the snapshots of one workload.
type Watch interface {
	// Updates yields the current snapshot as soon as one is known, then
	// each change. Bursts may collapse to the newest. It is closed when
	// the watch ends.
	Updates() <-chan *Snapshot
	// Close ends the watch; it is idempotent.
	Close()
}

// Source finds the workload behind an SDS stream and watches its
// identities. The agent implements it from its cache (the caller is attested
// from the stream's peer credentials); the standalone bridge implements it
// from its own Workload API connection (every stream gets the same
// workload's snapshots).
type Source interface {
	// Watch starts watching the workload that opened the stream whose
	// context is ctx. It fails (e.g. attestation error) with an error
	// that the SDS server returns to Envoy.
	Watch(ctx context.Context) (Watch, error)
}
