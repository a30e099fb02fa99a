package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/backoff"
)

// maxBackoff caps the retry delay while the server is unreachable.
const maxBackoff = 10 * time.Second

// iterationTimeout bounds one sync round, so a server that accepts
// connections but never answers cannot stall the agent.
const iterationTimeout = 30 * time.Second

// deniedLimit is how many consecutive PermissionDenied sync results make the
// agent conclude the server no longer knows it (evicted or banned).
const deniedLimit = 3

// Run attests (or reuses the stored identity), then keeps entries, bundles
// and SVIDs in sync until ctx is done. It returns nil on cancel and an
// error when the agent cannot obtain an identity at all. Cached SVIDs keep
// being served while the server is unreachable. Run may be called once.
func (a *Agent) Run(ctx context.Context) error {
	// Progress first: Live checks the stall limit as soon as running is set.
	a.progressed()
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	defer a.stopped.Store(true)
	defer a.closeConn()
	if err := a.bootstrap(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	close(a.attested)
	syncCtx, stopSync := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.runEntrySync(syncCtx) }()
	defer func() { stopSync(); wg.Wait() }()
	return a.loop(ctx)
}

// loop runs housekeeping rounds every SyncInterval, and at once when the
// entry sync changed the entries, backing off exponentially on errors.
func (a *Agent) loop(ctx context.Context) error {
	bo := backoff.NewJittered(a.cfg.SyncInterval, maxBackoff)
	denied := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-a.entriesChanged:
		case <-a.cache.MintWanted():
			// A workload waits for an SVID the cache does not hold.
		case <-a.bundlesChanged:
			// The server announced a bundle change: skip the poll period.
			a.lastBundleFetch = time.Time{}
		case err := <-a.denied:
			a.handleDenied(ctx, err)
			a.progressed()
			continue
		}
		err := a.iterate(ctx)
		a.progressed()
		if ctx.Err() != nil {
			return nil
		}
		delay := a.cfg.SyncInterval
		switch {
		case err == nil:
			bo.Reset()
			denied = 0
			if a.synced.Load() && !a.ready.Swap(true) {
				a.log.Info("agent ready", "entries", len(a.cache.Entries()))
			}
		case mustReattest(err):
			denied = 0
			delay = bo.Next()
			a.metrics.syncErrors.Inc()
			a.handleDenied(ctx, err)
		case status.Code(err) == codes.PermissionDenied:
			denied++
			delay = bo.Next()
			a.metrics.syncErrors.Inc()
			a.log.Warn("server denied the agent", "error", err, "consecutive", denied, "retry_in", delay)
			if denied >= deniedLimit {
				denied = 0
				a.handleDenied(ctx, err)
			}
		default:
			delay = bo.Next()
			a.metrics.syncErrors.Inc()
			a.log.Warn("sync with server failed; serving cached SVIDs", "error", err, "retry_in", delay)
		}
		timer.Reset(delay)
	}
}

// iterate is one housekeeping round: renew the agent SVID when due, refresh
// bundles, mint what is missing or due for rotation. Entries are kept in
// sync by runEntrySync.
func (a *Agent) iterate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, iterationTimeout)
	defer cancel()
	start := time.Now()
	defer func() { a.metrics.syncDuration.Observe(time.Since(start).Seconds()) }()
	// A failed renewal or re-attestation (for k8s_psat it depends on the
	// kube-apiserver, minting does not) must not stop bundle refresh and
	// workload SVID rotation while the agent SVID is still valid; its
	// error is still the round's result, so the loop reacts to it.
	renewErr := a.renewIfDue(ctx)
	if renewErr != nil && !a.svidValid(a.cfg.Clock.Now()) {
		return renewErr
	}
	if err := a.refreshBundles(ctx); err != nil {
		return cmp.Or(renewErr, err)
	}
	if err := a.mintStale(ctx); err != nil {
		return cmp.Or(renewErr, err)
	}
	return renewErr
}

// handleDenied reacts to the server refusing the agent's identity on every
// call, or asking it to re-attest (AGENT_MUST_REATTEST): with a node
// attestor it attests again, otherwise it can only report.
func (a *Agent) handleDenied(ctx context.Context, cause error) {
	if a.attestor == nil {
		a.log.Error("server denies this agent (evicted, banned or unknown); configure a new join token and restart", "error", cause)
		return
	}
	if mustReattest(cause) {
		a.log.Warn("server asks this agent to attest again", "error", cause)
	} else {
		a.log.Error("server denies this agent (evicted, banned or unknown); attesting again", "error", cause)
	}
	if err := a.reattest(ctx); err != nil {
		a.log.Error("re-attestation failed", "error", err)
	}
}

// mustReattest reports whether err is the server's PermissionDenied with
// reason AGENT_MUST_REATTEST (in PermissionDeniedDetails, as SPIRE sends).
func mustReattest(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.PermissionDenied {
		return false
	}
	for _, d := range st.Details() {
		if pd, ok := d.(*types.PermissionDeniedDetails); ok && pd.GetReason() == types.PermissionDeniedDetails_AGENT_MUST_REATTEST {
			return true
		}
	}
	return false
}

// wait sleeps for d or until ctx is done, reporting ctx's error.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("wait: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
