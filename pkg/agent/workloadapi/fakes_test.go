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

// fakeManager is an in-memory workloadapi.Manager. Every change is
// delivered to every subscriber in order, never coalesced: a publish blocks
// until each subscriber has taken the previous update, so tests can rely on
// the handler having seen each state.
type fakeManager struct {
	ca *testCA

	mu        sync.Mutex
	entries   []fakeEntry
	bundle    *spiffebundle.Bundle
	federated map[spiffeid.TrustDomain]*spiffebundle.Bundle
	updates   map[string]*workloadapi.Update
	subs      map[*fakeSub]struct{}

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
		finished: make(chan selector.Set, 64),
	}
}

// change applies fn under the lock, then publishes to every subscriber.
func (m *fakeManager) change(fn func(m *fakeManager)) {
	m.mu.Lock()
	fn(m)
	clear(m.updates)
	type delivery struct {
		sub *fakeSub
		u   *workloadapi.Update
	}
	var out []delivery
	for s := range m.subs {
		out = append(out, delivery{s, m.updateLocked(s.sels)})
	}
	m.mu.Unlock()
	for _, d := range out {
		d.sub.send(d.u)
	}
}

func (m *fakeManager) setEntries(entries ...fakeEntry) {
	m.change(func(m *fakeManager) { m.entries = entries })
}

func (m *fakeManager) setBundle(b *spiffebundle.Bundle) {
	m.change(func(m *fakeManager) { m.bundle = b })
}

func (m *fakeManager) setFederated(bundles ...*spiffebundle.Bundle) {
	m.change(func(m *fakeManager) {
		m.federated = make(map[spiffeid.TrustDomain]*spiffebundle.Bundle)
		for _, b := range bundles {
			m.federated[b.TrustDomain()] = b
		}
	})
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
	s := &fakeSub{m: m, sels: sels, ch: make(chan *workloadapi.Update, 1), done: make(chan struct{})}
	s.ch <- m.updateLocked(sels)
	m.subs[s] = struct{}{}
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

type fakeSub struct {
	m    *fakeManager
	sels selector.Set
	ch   chan *workloadapi.Update
	done chan struct{}
	once sync.Once
	mu   sync.Mutex // serializes send with the close in Finish
}

func (s *fakeSub) send(u *workloadapi.Update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.ch <- u:
	case <-s.done:
	}
}

func (s *fakeSub) Updates() <-chan *workloadapi.Update { return s.ch }

func (s *fakeSub) Finish() {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		close(s.ch)
		s.mu.Unlock()
		s.m.mu.Lock()
		delete(s.m.subs, s)
		s.m.mu.Unlock()
		select {
		case s.m.finished <- s.sels:
		default:
		}
	})
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
