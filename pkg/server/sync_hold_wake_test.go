package server_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/pkg/server"
)

// wakeupsMetric counts the wake-ups of held syncs, by cause.
const wakeupsMetric = "svidkit_server_entry_sync_hold_wakeups_total"

// heldAgent is an attested agent with a sync held on the current digest.
type heldAgent struct {
	svid   *x509svid.SVID
	digest string
	result <-chan syncResult
	cancel context.CancelFunc
}

// attestAll attests n agents through e and gives each an entry.
func attestAll(e *env, n int) []*heldAgent {
	e.t.Helper()
	agents := make([]*heldAgent, n)
	for i := range agents {
		svid := e.mustAttest(fmt.Sprintf("wake-%d", i))
		e.createEntries(entryFor(svid, fmt.Sprintf("/wl/%d", i)))
		agents[i] = &heldAgent{svid: svid}
	}
	return agents
}

// holdAll holds a sync of each agent on e (for a minute) on its current
// digest. endHolds or the test's end cancels them.
func holdAll(t *testing.T, e *env, agents []*heldAgent) {
	t.Helper()
	for _, a := range agents {
		conn := e.tcpConn(a.svid)
		a.digest = mustSync(t, conn).digest
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		out := make(chan syncResult, 1)
		md := []string{waitDigestKey, a.digest, waitTimeoutKey, strconv.Itoa(int(time.Minute.Milliseconds()))}
		go func() { out <- syncOnce(ctx, conn, md...) }()
		a.result, a.cancel = out, cancel
	}
	waitHeld(t, e, float64(len(agents)))
}

// waitCounter waits until the labelled counter reaches at least n. The
// metric publishes no event, so it is polled.
func waitCounter(t *testing.T, e *env, name, label string, n float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(t, e, name, label) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s{%s} did not reach %v within 10s", name, label, n)
		}
		time.Sleep(2 * time.Millisecond) // polling a metric, not waiting for an event
	}
}

// endHolds cancels the holds still running and waits until the server
// holds none: every wake-up it delivered has then been counted, since a
// hold counts its wake-up before it can return.
func endHolds(t *testing.T, e *env, agents []*heldAgent) {
	t.Helper()
	for _, a := range agents {
		a.cancel()
	}
	waitHeld(t, e, 0)
}

// TestHeldSyncWakesOnlyChangedAgent: with syncs of several agents held,
// an entry written for one agent, or one agent's SVID renewal (through
// another server, as an agent spread over several servers renews),
// re-evaluates that agent's hold only; a broadcast woke every hold, which
// at 10,000 agents is 10,000 re-evaluations per change. The holds count
// their wake-ups (the wake-ups metric); they are counted once every hold
// has ended, so that none in flight is missed.
func TestHeldSyncWakesOnlyChangedAgent(t *testing.T) {
	const n = 8
	t.Run("entry written for one agent", func(t *testing.T) {
		e := newEnv(t)
		agents := attestAll(e, n)
		holdAll(t, e, agents)
		created := e.createEntries(entryFor(agents[0].svid, "/wl/0-new"))[0]
		r := await(t, agents[0].result, heldPromptly, "the changed agent's held sync")
		if r.err != nil || r.digest == agents[0].digest || len(r.entries) != 2 {
			t.Fatalf("changed agent: digest %q (was %q), entries %v, %v", r.digest, agents[0].digest, entryIDs(r.entries), r.err)
		}
		for i, a := range agents[1:] {
			select {
			case r := <-a.result:
				t.Fatalf("agent %d's held sync answered for agent 0's entry %s: %+v", i+1, created.Id, r)
			default:
			}
		}
		endHolds(t, e, agents)
		if got := counterValue(t, e, wakeupsMetric, "entries"); got != 1 {
			t.Errorf("one entry write woke %v held syncs, want 1 (the changed agent's) of %d", got, n)
		}
	})
	t.Run("one agent renewed", func(t *testing.T) {
		// A attests the agents before B starts: B's agent cache starts
		// at the current revision and sees only the renewal.
		a := newEnv(t)
		agents := attestAll(a, n)
		b := newEnv(t, func(c *server.Config) { c.Store, c.Authority = a.store, a.ca })
		holdAll(t, b, agents)
		_, csr := newKeyCSR(t)
		if _, err := agentv1.NewAgentClient(a.tcpConn(agents[0].svid)).RenewAgent(context.Background(),
			&agentv1.RenewAgentRequest{Params: &agentv1.AgentX509SVIDParams{Csr: csr}}); err != nil {
			t.Fatalf("RenewAgent through A: %v", err)
		}
		waitCounter(t, b, wakeupsMetric, "agent", 1)
		endHolds(t, b, agents)
		if got := counterValue(t, b, wakeupsMetric, "agent"); got != 1 {
			t.Errorf("one agent's renewal woke %v held syncs, want 1 (the renewed agent's) of %d", got, n)
		}
		if got := counterValue(t, b, wakeupsMetric, "entries"); got != 0 {
			t.Errorf("the renewal woke %v held syncs for entries, want 0", got)
		}
	})
}

// TestHeldSyncsUnderConcurrentWrites: while syncs of many agents are
// held, entries for all of them are written concurrently, one per write;
// each agent re-holds on the digest it got back, and must reach its full
// set: a lost wake-up leaves a hold asleep for its whole wait (a minute),
// past the test's deadline. Run with -race.
func TestHeldSyncsUnderConcurrentWrites(t *testing.T) {
	const (
		agents  = 32
		each    = 2 // entries written per agent
		writers = 4
	)
	e := newEnv(t)
	svids := make([]*x509svid.SVID, agents)
	for i := range svids {
		svids[i] = e.mustAttest(fmt.Sprintf("stress-%d", i))
	}
	conns := make([]*grpc.ClientConn, agents)
	digests := make([]string, agents)
	for i, svid := range svids {
		conns[i] = e.tcpConn(svid)
		digests[i] = mustSync(t, conns[i]).digest
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, agents+writers)
	for i := range agents {
		wg.Go(func() {
			digest, seen := digests[i], 0
			for {
				r := syncOnce(ctx, conns[i], waitDigestKey, digest, waitTimeoutKey, strconv.Itoa(int(time.Minute.Milliseconds())))
				if r.err != nil {
					errs <- fmt.Errorf("agent %d: held with %d of its %d entries: %w", i, seen, each, r.err)
					return
				}
				if seen = len(r.entries); seen == each {
					return
				}
				digest = r.digest
			}
		})
	}
	for w := range writers {
		wg.Go(func() {
			client := entryv1.NewEntryClient(e.admin)
			for k := range each {
				for i := w; i < agents; i += writers {
					en := entryFor(svids[i], fmt.Sprintf("/wl/%d/%d", i, k))
					resp, err := client.BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{en}})
					if err == nil && codes.Code(resp.Results[0].Status.Code) != codes.OK {
						err = fmt.Errorf("%s", resp.Results[0].Status.Message)
					}
					if err != nil {
						errs <- fmt.Errorf("writer %d: create entry %d of agent %d: %w", w, k, i, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, conn := range conns {
		if r := mustSync(t, conn); len(r.entries) != each {
			t.Errorf("agent %d: %d entries after the writes, want %d", i, len(r.entries), each)
		}
	}
}
