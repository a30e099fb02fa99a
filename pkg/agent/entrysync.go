package agent

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/backoff"
)

// The svidkit long-poll extension of SyncAuthorizedEntries, spelled as the
// server spells it (agent and server meet only on the wire). It travels in
// gRPC metadata, so the messages stay SPIRE's and either side works with
// SPIRE's other side.
const (
	// entriesDigestHeader is the response header with the digest of the
	// agent's authorized set.
	entriesDigestHeader = "svidkit-entries-digest"
	// waitDigestKey asks the server to hold the call while the set still
	// has the digest sent.
	waitDigestKey = "svidkit-wait-digest"
	// waitTimeoutKey bounds the hold, in milliseconds.
	waitTimeoutKey = "svidkit-wait-timeout-ms"
	// bundlesDigestHeader is the response header with the digest of the
	// bundles the agent fetches (its own and those its entries federate
	// with).
	bundlesDigestHeader = "svidkit-bundles-digest"
	// waitBundlesDigestKey asks the server to end the hold also when the
	// bundles no longer have the digest sent.
	waitBundlesDigestKey = "svidkit-wait-bundles-digest"
)

// syncDigests are the digests an svidkit server sends with each entry sync
// and holds the next one on.
type syncDigests struct {
	entries string
	bundles string
}

// syncWaitMargin is added to Config.SyncWait for the deadline of a held
// call: the server answers at the end of the wait, so a call that outlives
// it went to a dead connection and is abandoned.
const syncWaitMargin = 5 * time.Second

// runEntrySync keeps the cached entries in sync until ctx is done, on its
// own so that a held call never delays SVID rotation, renewal or bundle
// refresh. Against an svidkit server every call after the first is held
// until the agent's entries or bundles change (or SyncWait passes); against
// a server that sends no digest (SPIRE) it polls every SyncInterval. Each
// entry change is signalled on a.entriesChanged so that the main loop mints
// at once, each bundle change the server announces on a.bundlesChanged so
// that it fetches the bundles at once; after deniedLimit consecutive
// PermissionDenied results a.denied is signalled.
func (a *Agent) runEntrySync(ctx context.Context) {
	bo := backoff.NewJittered(a.cfg.SyncInterval, maxBackoff)
	var waitOn syncDigests
	// bundles is the last bundles digest the server sent; unlike waitOn it
	// survives failed calls, so a change during an outage is still seen.
	bundles := ""
	denied := 0
	// failedOver is set when a broken call was retried at once, and
	// cleared by the next success: only the first failure skips the
	// backoff.
	failedOver := false
	for {
		conn := a.conn.Load()
		var opts []grpc.CallOption
		if failedOver {
			// The retry waits for a ready connection (bounded by the
			// call's deadline) instead of failing while the balancer
			// still picks the broken one or reconnects to a restarted
			// server.
			opts = append(opts, grpc.WaitForReady(true))
		}
		next, changed, err := a.syncEntries(ctx, waitOn, opts...)
		if ctx.Err() != nil {
			return
		}
		a.metrics.entrySyncs.Inc()
		delay := time.Duration(0)
		switch {
		case err == nil:
			bo.Reset()
			denied = 0
			failedOver = false
			first := !a.synced.Swap(true)
			if changed || first {
				signal(a.entriesChanged)
			}
			if next.bundles != "" && next.bundles != bundles {
				// The first digest counts too: the main loop may have
				// fetched the bundles before this sync brought the
				// entries naming foreign trust domains.
				if bundles != "" {
					a.metrics.bundlePushes.Inc()
					a.followBundleChange(time.Now())
				}
				signal(a.bundlesChanged)
			}
			if next.bundles != "" {
				bundles = next.bundles
			}
			a.bundlesAnnounced.Store(next.bundles != "")
			waitOn = next
			if waitOn.entries == "" {
				delay = a.cfg.SyncInterval // the server does not hold calls: poll
			}
		case a.conn.Load() != conn:
			// The main loop replaced the connection (renewal or
			// re-attestation), which ends calls on the old one: not a
			// server failure, so ask again at once on the new one.
			waitOn = syncDigests{}
		case status.Code(err) == codes.Unavailable && !failedOver:
			// The call's connection broke: its server died, restarted or
			// closed an aged connection. Ask again at once, which
			// round_robin sends to another server's ready connection.
			// waitOn still describes the cache, so that server holds
			// the call unless something changed meanwhile: failing over
			// costs the servers no full sync. Connections to servers that
			// are in their reconnect backoff (one restarted a moment
			// ago) try again now, so that the retry finds one even when
			// the server that broke was the only one connected.
			// ResetConnectBackoff is marked experimental in grpc-go; it
			// has been stable since 1.17. Further failures back off,
			// each call waiting for a ready connection.
			failedOver = true
			if conn != nil {
				conn.ResetConnectBackoff()
			}
			a.metrics.syncErrors.Inc()
			a.log.Info("entry sync connection lost; syncing through another server", "error", err)
		case mustReattest(err):
			// The server asks for re-attestation: no point in asking again.
			waitOn = syncDigests{}
			denied = 0
			delay = bo.Next()
			a.metrics.syncErrors.Inc()
			select {
			case a.denied <- err:
			default:
			}
		case status.Code(err) == codes.PermissionDenied:
			waitOn = syncDigests{}
			denied++
			delay = bo.Next()
			a.metrics.syncErrors.Inc()
			a.log.Warn("server denied the entry sync", "error", err, "consecutive", denied, "retry_in", delay)
			if denied >= deniedLimit {
				denied = 0
				select {
				case a.denied <- err:
				default:
				}
			}
		default:
			waitOn = syncDigests{}
			delay = bo.Next()
			a.metrics.syncErrors.Inc()
			a.log.Warn("entry sync with server failed; serving cached SVIDs", "error", err, "retry_in", delay)
		}
		if delay > 0 && wait(ctx, delay) != nil {
			return
		}
	}
}

// signal wakes the receiver of a size-one channel; pending signals
// collapse into one.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
