package workloadapi_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

// fakeEntry grants id to workloads whose selectors include sels.
type fakeEntry struct {
	sels selector.Set
	id   workloadapi.Identity
}

// fakeManager is an in-memory workloadapi.Manager that delivers updates as
// the agent's cache (pkg/agent/cache) does: each subscription holds at most
// one unread update and a newer one replaces it, so a burst of changes may
// reach the handler as its last state only. Tests must wait for the state
// they expect, never count the states in between; a test that must know
// the handler saw one state before the next change waits with waitTaken.
type fakeManager struct {
	ca *testCA

	mu        sync.Mutex
	entries   []fakeEntry
	bundle    *spiffebundle.Bundle
	federated map[spiffeid.TrustDomain]*spiffebundle.Bundle
	updates   map[string]*workloadapi.Update
	subs      map[*fakeSub]struct{}
	gen       uint64        // counts changes
	took      chan struct{} // closed and replaced when a reader takes an update

	// finished receives the selectors of each ended subscription.
	finished chan selector.Set
}

func newFakeManager(ca *testCA, entries ...fakeEntry) *fakeManager {
	return &fakeManager{
		ca:       ca,
		entries:  entries,
		bundle:   ca.bundle(),
		updates:  make(map[string]*workloadapi.Update),
		subs:     make(map[*fakeSub]struct{}),
		took:     make(chan struct{}),
		finished: make(chan selector.Set, 64),
	}
}

// change applies fn and pushes the new state to every subscriber, all under
// the lock, which serializes pushes as the real cache's lock does. It
// returns the change's generation for waitTaken.
func (m *fakeManager) change(fn func(m *fakeManager)) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(m)
	clear(m.updates)
	m.gen++
	for s := range m.subs {
		s.push(pending{m.updateLocked(s.sels), m.gen})
	}
	return m.gen
}

func (m *fakeManager) setEntries(entries ...fakeEntry) uint64 {
	return m.change(func(m *fakeManager) { m.entries = entries })
}

func (m *fakeManager) setBundle(b *spiffebundle.Bundle) uint64 {
	return m.change(func(m *fakeManager) { m.bundle = b })
}

func (m *fakeManager) setFederated(bundles ...*spiffebundle.Bundle) uint64 {
	return m.change(func(m *fakeManager) {
		m.federated = make(map[spiffeid.TrustDomain]*spiffebundle.Bundle)
		for _, b := range bundles {
			m.federated[b.TrustDomain()] = b
		}
	})
}

// waitTaken waits until every open subscription's reader (the handler) has
// taken the update of change gen or a later one, so the next change reaches
// it as an update of its own rather than collapsing with gen's.
func (m *fakeManager) waitTaken(tb testing.TB, gen uint64) {
	tb.Helper()
	ctx := testCtx(tb)
	for {
		m.mu.Lock()
		took, all := m.took, true
		for s := range m.subs {
			all = all && s.taken >= gen
		}
		m.mu.Unlock()
		if all {
			return
		}
		select {
		case <-took:
		case <-ctx.Done():
			tb.Fatalf("the handler did not take the update of change %d", gen)
		}
	}
}

func (m *fakeManager) matchingLocked(sels selector.Set) []workloadapi.Identity {
	var ids []workloadapi.Identity
	for _, e := range m.entries {
		if e.sels.IsSubsetOf(sels) {
			ids = append(ids, e.id)
		}
	}
	return ids
}

// updateLocked returns the shared Update for sels, as a real cache would.
func (m *fakeManager) updateLocked(sels selector.Set) *workloadapi.Update {
	key := strings.Join(sels.Strings(), ",")
	if u, ok := m.updates[key]; ok {
		return u
	}
	u := &workloadapi.Update{
		Identities:       m.matchingLocked(sels),
		Bundle:           m.bundle,
		FederatedBundles: m.federated,
	}
	m.updates[key] = u
	return u
}

func (m *fakeManager) Subscribe(_ context.Context, sels selector.Set) (workloadapi.Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &fakeSub{
		m:    m,
		sels: sels,
		in:   make(chan pending, 1),
		out:  make(chan *workloadapi.Update),
		done: make(chan struct{}),
	}
	s.push(pending{m.updateLocked(sels), m.gen})
	m.subs[s] = struct{}{}
	go s.relay()
	return s, nil
}

func (m *fakeManager) FetchJWTSVIDs(_ context.Context, sels selector.Set, audience []string, spiffeID spiffeid.ID) ([]workloadapi.JWTSVID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []workloadapi.JWTSVID
	for _, id := range m.matchingLocked(sels) {
		if !spiffeID.IsZero() && id.SPIFFEID != spiffeID {
			continue
		}
		token, exp, err := m.ca.signJWT(id.SPIFFEID, audience)
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		out = append(out, workloadapi.JWTSVID{SPIFFEID: id.SPIFFEID, Hint: id.Hint, Token: token, ExpiresAt: exp})
	}
	return out, nil
}

// subscribers reports how many subscriptions are open.
func (m *fakeManager) subscribers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs)
}

// pending is an update not yet taken, with the change it reflects.
type pending struct {
	u   *workloadapi.Update
	gen uint64
}

// fakeSub is a subscription holding at most one unread update, latest
// wins, like the real cache's size-one channel. Its relay goroutine hands
// the update over on an unbuffered channel so the fake knows when the reader
// took it (see waitTaken); a newer push replaces the one not yet taken.
type fakeSub struct {
	m    *fakeManager
	sels selector.Set
	in   chan pending // size one; pushed to under m.mu
	out  chan *workloadapi.Update
	done chan struct{} // closed by Finish; ends relay

	taken  uint64 // guarded by m.mu: the generation the reader last took
	closed bool   // guarded by m.mu
}

// push replaces any unread update with p. The caller holds m.mu; relay only
// receives from in, so after the drain the send never blocks.
func (s *fakeSub) push(p pending) {
	select {
	case <-s.in:
	default:
	}
	s.in <- p
}

// relay offers the newest pushed update to the reader until Finish.
func (s *fakeSub) relay() {
	defer close(s.out)
	var cur pending
	for {
		var out chan *workloadapi.Update // nil, never ready, while nothing is pending
		if cur.u != nil {
			out = s.out
		}
		select {
		case p := <-s.in:
			cur = p
		case out <- cur.u:
			s.m.mu.Lock()
			s.taken = cur.gen
			close(s.m.took)
			s.m.took = make(chan struct{})
			s.m.mu.Unlock()
			cur = pending{}
		case <-s.done:
			return
		}
	}
}

func (s *fakeSub) Updates() <-chan *workloadapi.Update { return s.out }

// Finish ends the subscription; its channel is closed once relay returns.
// It is idempotent.
func (s *fakeSub) Finish() {
	s.m.mu.Lock()
	if s.closed {
		s.m.mu.Unlock()
		return
	}
	s.closed = true
	delete(s.m.subs, s)
	close(s.done)
	s.m.mu.Unlock()
	select {
	case s.m.finished <- s.sels:
	default:
	}
}

// fakeAttestor gives a caller the selectors test:uid:<uid> and
// test:pid:<pid> and remembers the last pid it saw.
type fakeAttestor struct {
	lastPID atomic.Int32
	err     error
}

func (a *fakeAttestor) Attest(_ context.Context, p *procid.Process, uid, _ uint32) (selector.Set, error) {
	pid := p.PID()
	a.lastPID.Store(pid)
	if a.err != nil {
		return nil, a.err
	}
	return selector.NewSet(
		selector.Selector{Type: "test", Value: "uid:" + strconv.FormatUint(uint64(uid), 10)},
		selector.Selector{Type: "test", Value: "pid:" + strconv.Itoa(int(pid))},
	), nil
}

// selfSels are the selectors fakeAttestor gives this test process.
func selfSels() selector.Set {
	return selector.NewSet(selector.Selector{Type: "test", Value: "uid:" + strconv.Itoa(os.Getuid())})
}

// otherSels match no process of this test.
func otherSels() selector.Set {
	return selector.NewSet(selector.Selector{Type: "test", Value: "uid:999999"})
}

var errAttest = errors.New("process vanished")
