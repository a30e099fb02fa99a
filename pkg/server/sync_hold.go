package server

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// The svidkit long-poll extension of SyncAuthorizedEntries. It travels in
// gRPC metadata only, so the messages stay SPIRE's: SPIRE agents send no
// wait metadata and ignore the header; svidkit agents talking to a SPIRE
// server never receive the header and poll instead.
const (
	// entriesDigestHeader is the response header carrying the digest of
	// the authorized set the response describes.
	entriesDigestHeader = "svidkit-entries-digest"
	// waitDigestKey is the request metadata carrying the digest of the
	// set the agent already holds: while the set still has that digest,
	// the server holds the call instead of answering.
	waitDigestKey = "svidkit-wait-digest"
	// waitTimeoutKey is the request metadata bounding the hold, in
	// milliseconds; the server caps it at maxSyncWait.
	waitTimeoutKey = "svidkit-wait-timeout-ms"
	// bundlesDigestHeader is the response header carrying the digest of
	// the bundles the agent fetches (its own trust domain's and those its
	// entries federate with): a change tells the agent to fetch them at
	// once.
	bundlesDigestHeader = "svidkit-bundles-digest"
	// waitBundlesDigestKey is the request metadata carrying the bundles
	// digest the agent holds: the hold also ends when it is stale. Agents
	// that do not send it are held on their entries only.
	waitBundlesDigestKey = "svidkit-wait-bundles-digest"
)

// Bounds of a held sync: the default when the agent sends no timeout, and
// the cap, which keeps calls well inside common proxy idle timeouts.
const (
	defaultSyncWait = 25 * time.Second
	maxSyncWait     = 30 * time.Second
)

// Results of a held sync, the label of the holds metric.
const (
	holdChanged  = "changed"
	holdTimeout  = "timeout"
	holdCanceled = "canceled"
	holdStopped  = "stopped"
	holdDenied   = "denied"
	holdError    = "error"
)

// waitFor is what a held sync waits on: the digests the agent holds and
// how long it waits at most.
type waitFor struct {
	// entries is the digest of the agent's authorized set; empty means the
	// agent does not wait (SPIRE agents, first syncs).
	entries string
	// bundles is the digest of the agent's bundles; empty means the hold
	// ignores bundles.
	bundles string
	timeout time.Duration
}

// waitParams returns what an agent waits on.
func waitParams(ctx context.Context) (waitFor, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	digests := md.Get(waitDigestKey)
	if len(digests) == 0 || digests[0] == "" {
		return waitFor{}, nil
	}
	w := waitFor{entries: digests[0], timeout: defaultSyncWait}
	if v := md.Get(waitBundlesDigestKey); len(v) > 0 {
		w.bundles = v[0]
	}
	if v := md.Get(waitTimeoutKey); len(v) > 0 {
		ms, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || ms <= 0 {
			return waitFor{}, status.Errorf(codes.InvalidArgument, "%s: want a positive number of milliseconds, got %q", waitTimeoutKey, v[0])
		}
		w.timeout = time.Duration(min(ms, maxSyncWait.Milliseconds())) * time.Millisecond
	}
	return w, nil
}

// bundlesDigest returns the digest of the bundles an agent with the
// authorized set fetches, or "" when the bundles cannot be read: the agent
// then keeps polling them.
func (s *entryService) bundlesDigest(ctx context.Context, set *authorizedSet) string {
	snap, err := s.bundles.snapshot(ctx)
	if err != nil {
		s.cfg.Log.Warn("cannot read bundles for the entry sync; agents poll them", "error", err)
		return ""
	}
	return snap.digestFor(set)
}

// Causes of a held sync's wake-up, the label of the wake-ups metric.
const (
	wokeEntries = "entries"
	wokeBundles = "bundles"
	wokeAgent   = "agent"
	wokeExpiry  = "expiry"
)

// holdSync holds the sync of an agent that already has the authorized set
// (and, when w.bundles is set, the bundles) with the digests in w, until
// either changes, w.timeout passes, the agent is banned or deleted, the
// caller goes away or the server stops. It returns the agent as re-checked
// when the hold ends, so that a banned agent gets PermissionDenied rather
// than its entries. A digest that is already stale returns at once.
//
// The hold is woken only by the changes that concern it: an entry change
// of a parent ID its set was computed from (entryCache.watch), a change
// of its agent (deps.heldAgents), any bundle change, the expiry of one of
// its entries.
func (s *entryService) holdSync(ctx context.Context, agent *datastore.Agent, w waitFor) (*datastore.Agent, error) {
	s.cache.waiters.Add(1)
	defer s.cache.waiters.Add(-1)
	timer := time.NewTimer(w.timeout)
	defer timer.Stop()
	agentChanged := s.watchAgent(agent.SPIFFEID)
	defer func() { s.heldAgents.cancel(agentChanged) }()
	held := false
	for {
		// Take the bundles signal before reading the bundles; the entries
		// registration detects a snapshot replaced since it was read.
		bundlesChanged := s.bundles.changes()
		snap, set, err := s.authorizedIn(ctx, agent)
		if err != nil {
			s.holdEnded(held, holdError)
			return nil, err
		}
		if set.digestHex() != w.entries || (w.bundles != "" && s.bundlesDigest(ctx, set) != w.bundles) {
			if !held {
				return agent, nil
			}
			return s.endHold(ctx, holdChanged)
		}
		if !held {
			held = true
			s.metrics.held.Inc()
			defer s.metrics.held.Dec()
		}
		entriesChanged := s.cache.watch(snap, set.parents)
		result, woke := s.waitOnce(ctx, set.validUntil, timer.C, entriesChanged.woken(), bundlesChanged, agentChanged.woken())
		s.cache.held.cancel(entriesChanged)
		if result != "" {
			if result == holdCanceled {
				s.holdEnded(held, holdCanceled)
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			return s.endHold(ctx, result)
		}
		s.metrics.holdWoken(woke)
		if woke == wokeAgent {
			// Registered again before the agent is read, so that a
			// change in between wakes the next wait.
			agentChanged = s.watchAgent(agent.SPIFFEID)
			if agent, err = s.recheckAgent(ctx); err != nil {
				s.holdEnded(held, holdDenied)
				return nil, err
			}
		}
	}
}

// watchAgent registers a held sync of the agent with the given ID, to be
// woken when the agent changes.
func (s *entryService) watchAgent(id string) *waiter {
	return s.heldAgents.add(func(yield func(string) bool) { yield(id) })
}

// waitOnce waits for one event of a held sync. It returns the hold's
// result when the hold must end, else what woke it.
func (s *entryService) waitOnce(ctx context.Context, validUntil time.Time, timeout <-chan time.Time, entries, bundles, agent <-chan struct{}) (result, woke string) {
	var expiry <-chan time.Time
	if !validUntil.IsZero() {
		// An entry of the set expires: the set changes without a write.
		t := time.NewTimer(validUntil.Sub(s.cfg.Clock.Now()))
		defer t.Stop()
		expiry = t.C
	}
	select {
	case <-entries:
		return "", wokeEntries
	case <-bundles:
		return "", wokeBundles
	case <-expiry:
		return "", wokeExpiry
	case <-agent:
		return "", wokeAgent
	case <-timeout:
		return holdTimeout, ""
	case <-s.stopping:
		return holdStopped, ""
	case <-ctx.Done():
		return holdCanceled, ""
	}
}

// endHold re-checks the agent after a hold and counts the hold.
func (s *entryService) endHold(ctx context.Context, result string) (*datastore.Agent, error) {
	agent, err := s.recheckAgent(ctx)
	if err != nil {
		if status.Code(err) == codes.PermissionDenied {
			result = holdDenied
		} else {
			result = holdError
		}
		s.holdEnded(true, result)
		return nil, err
	}
	s.holdEnded(true, result)
	return agent, nil
}

func (s *entryService) holdEnded(held bool, result string) {
	if held {
		s.metrics.syncHeld(result)
	}
}

// recheckAgent authorizes the caller again against the store, as the
// interceptor did when the call arrived: a held call may outlive the
// agent's standing.
func (s *entryService) recheckAgent(ctx context.Context) (*datastore.Agent, error) {
	c := callerFrom(ctx)
	if c.cert == nil {
		return nil, status.Error(codes.PermissionDenied, "caller is not an attested agent")
	}
	return s.auth.activeAgent(ctx, c.agentID, c.cert)
}
