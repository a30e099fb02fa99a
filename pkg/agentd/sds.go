package agentd

import (
	"context"
	"sync"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/peercred"
	"github.com/svidkit/svidkit/pkg/sds"
)

// sdsSource feeds the SDS server from the agent's cache. Each SDS stream's
// caller (an Envoy) is attested from its socket peer credentials exactly as
// a Workload API caller is, and is served the identities of its entries.
type sdsSource struct {
	mgr workloadapi.Manager
	att workloadapi.Attestor
	// td is the agent's trust domain, used before the first bundle arrives.
	td spiffeid.TrustDomain
}

// Watch attests the stream's caller and subscribes to its identities.
func (s sdsSource) Watch(ctx context.Context) (sds.Watch, error) {
	info, ok := peercred.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "caller credentials unavailable")
	}
	sels, err := s.att.Attest(ctx, info.Process, info.UID, info.GID)
	if err != nil {
		return nil, workloadapi.AttestError(err)
	}
	sub, err := s.mgr.Subscribe(ctx, sels)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "subscribe: %v", err)
	}
	w := &sdsWatch{sub: sub, out: make(chan *sds.Snapshot, 1), done: make(chan struct{})}
	go w.run(s.td)
	return w, nil
}

// sdsWatch converts a cache subscription into SDS snapshots.
type sdsWatch struct {
	sub  workloadapi.Subscription
	out  chan *sds.Snapshot
	done chan struct{}
	once sync.Once
}

func (w *sdsWatch) Updates() <-chan *sds.Snapshot { return w.out }

// Close ends the subscription; the conversion goroutine then closes Updates.
func (w *sdsWatch) Close() {
	w.once.Do(func() {
		close(w.done)
		w.sub.Finish()
	})
}

func (w *sdsWatch) run(td spiffeid.TrustDomain) {
	defer close(w.out)
	for u := range w.sub.Updates() {
		snap := toSnapshot(u, td)
		// Newest replaces an unread snapshot: bursts collapse.
		select {
		case <-w.out:
		default:
		}
		select {
		case w.out <- snap:
		case <-w.done:
			return
		}
	}
}

func toSnapshot(u *workloadapi.Update, td spiffeid.TrustDomain) *sds.Snapshot {
	snap := &sds.Snapshot{TrustDomain: td, Bundles: x509bundle.NewSet()}
	if u.Bundle != nil {
		snap.TrustDomain = u.Bundle.TrustDomain()
		snap.Bundles.Add(u.Bundle.X509Bundle())
	}
	for _, b := range u.FederatedBundles {
		snap.Bundles.Add(b.X509Bundle())
	}
	for _, id := range u.Identities {
		chain, err := id.Certificates()
		if err != nil {
			continue
		}
		key, err := id.PrivateKey()
		if err != nil {
			continue
		}
		snap.SVIDs = append(snap.SVIDs, sds.SVID{ID: id.SPIFFEID, Hint: id.Hint, Chain: chain, Key: key})
	}
	return snap
}
