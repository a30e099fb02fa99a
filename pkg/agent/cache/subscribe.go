package cache

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/selector"
)

// subscription delivers one workload's updates. Its channel has room for
// one update; a newer update replaces an unread one, so bursts collapse and
// the cache never blocks on a slow reader.
type subscription struct {
	c    *Cache
	sels selector.Set
	ch   chan *workloadapi.Update
	stop func() bool // stops the context.AfterFunc registration

	finished bool // guarded by c.mu
	// waiting holds the IDs of matching entries that had no SVID when the
	// subscription began; until it empties (each minted, refused or gone)
	// or giveUp fires, no update is sent. Guarded by c.mu.
	waiting map[string]struct{}
	giveUp  *time.Timer
}

// Subscribe returns a subscription that yields the current identities of a
// workload with selectors sels, then every change. It ends when ctx is done
// or Finish is called. Updates are shared with the cache and other
// subscribers and must not be modified.
//
// The first update comes at once when every matching entry holds an SVID.
// Otherwise (the entries' SVIDs were evicted or never minted, see
// svidlru.go) the agent is asked to mint them now, and the first update
// comes when each of them is minted or refused by the server, or after
// MintWait with the identities held then, so a workload never sees an error
// because its SVID was evicted.
func (c *Cache) Subscribe(ctx context.Context, sels selector.Set) (workloadapi.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	s := &subscription{
		c:    c,
		sels: selector.NewSet(sels...),
		ch:   make(chan *workloadapi.Update, 1),
	}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	for _, sel := range s.sels {
		m := c.subsBySel[sel]
		if m == nil {
			m = make(map[*subscription]struct{})
			c.subsBySel[sel] = m
		}
		m[s] = struct{}{}
	}
	now := c.clock.Now()
	c.eachMatch(s.sels, func(r *record) {
		r.lastUsed = now
		if r.svid == nil {
			if s.waiting == nil {
				s.waiting = make(map[string]struct{})
			}
			s.waiting[r.entry.ID] = struct{}{}
		}
	})
	if s.waiting == nil {
		s.push(c.updateFor(s.sels))
	} else {
		c.wantMint()
		s.giveUp = time.AfterFunc(c.mintWait, s.stopWaiting)
	}
	// Registered under the lock: a Finish triggered by ctx waits for it and
	// then sees s.stop set.
	s.stop = context.AfterFunc(ctx, s.Finish)
	c.mu.Unlock()
	return s, nil
}

// Updates yields the current update, then every change; it is closed when
// the subscription ends.
func (s *subscription) Updates() <-chan *workloadapi.Update { return s.ch }

// Finish ends the subscription and closes its channel. It is idempotent.
func (s *subscription) Finish() {
	c := s.c
	c.mu.Lock()
	if s.finished {
		c.mu.Unlock()
		return
	}
	s.finished = true
	if s.giveUp != nil {
		s.giveUp.Stop()
	}
	// The workload used these entries until now: they are the most
	// recently used when eviction looks at them.
	now := c.clock.Now()
	c.eachMatch(s.sels, func(r *record) { r.lastUsed = now })
	delete(c.subs, s)
	for _, sel := range s.sels {
		delete(c.subsBySel[sel], s)
		if len(c.subsBySel[sel]) == 0 {
			delete(c.subsBySel, sel)
		}
	}
	close(s.ch)
	stop := s.stop
	c.mu.Unlock()
	stop()
}

// push replaces any unread update with u. The caller holds c.mu, which
// serializes pushes; the reader only receives, so after the drain there is
// always room and the send never blocks.
func (s *subscription) push(u *workloadapi.Update) {
	if s.finished {
		return
	}
	select {
	case <-s.ch:
	default:
	}
	s.ch <- u
}

// notify sends a fresh update to every subscriber in dirty; one still
// waiting for SVIDs gets its first update only once they are all settled.
// The caller holds c.mu.
func (c *Cache) notify(dirty map[*subscription]struct{}) {
	for s := range dirty {
		if s.waiting != nil {
			c.settle(s)
			continue
		}
		s.push(c.updateFor(s.sels))
	}
}

// settle drops from s.waiting the entries that now hold an SVID, are gone
// or no longer match, and sends the first update once none is left. The
// caller holds c.mu.
func (c *Cache) settle(s *subscription) {
	for id := range s.waiting {
		r, ok := c.records[id]
		if !ok || r.svid != nil || !r.entry.Selectors.IsSubsetOf(s.sels) {
			delete(s.waiting, id)
		}
	}
	if len(s.waiting) > 0 {
		return
	}
	s.waiting = nil
	s.giveUp.Stop()
	s.push(c.updateFor(s.sels))
}

// stopWaiting sends a subscription still waiting for SVIDs after MintWait
// the identities held now.
func (s *subscription) stopWaiting() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.finished || s.waiting == nil {
		return
	}
	c.log.Warn("SVIDs not minted within the wait; serving the identities held", "missing", len(s.waiting), "wait", c.mintWait)
	s.waiting = nil
	s.push(c.updateFor(s.sels))
}

// wantMint asks the agent to mint now. The caller holds c.mu.
func (c *Cache) wantMint() {
	select {
	case c.mintWanted <- struct{}{}:
	default:
	}
}

// MintWanted signals (buffered, one at a time) that a subscription waits
// for SVIDs the cache does not hold: the agent should mint StaleEntries now.
func (c *Cache) MintWanted() <-chan struct{} { return c.mintWanted }

// MintFailed reports that the server refused to mint SVIDs for the entries
// with ids: subscriptions waiting for them stop waiting and get the
// identities held. The entries stay stale and are retried later.
func (c *Cache) MintFailed(ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	touched := make(map[*subscription]struct{})
	for _, id := range ids {
		r, ok := c.records[id]
		if !ok {
			continue
		}
		subs := make(map[*subscription]struct{})
		c.markDirty(subs, r.entry)
		for s := range subs {
			if s.waiting != nil {
				delete(s.waiting, id)
				touched[s] = struct{}{}
			}
		}
	}
	for s := range touched {
		c.settle(s)
	}
}

// eachMatch calls fn for each record whose selectors are a subset of sels,
// in no particular order. The caller holds c.mu.
func (c *Cache) eachMatch(sels selector.Set, fn func(*record)) {
	for _, sel := range sels {
		for _, r := range c.byKey[sel] {
			if r.entry.Selectors.IsSubsetOf(sels) {
				fn(r)
			}
		}
	}
}

// matching returns the records whose selectors are a subset of sels, in
// entry creation order, then entry ID. The caller holds c.mu.
func (c *Cache) matching(sels selector.Set) []*record {
	var out []*record
	c.eachMatch(sels, func(r *record) { out = append(out, r) })
	slices.SortFunc(out, func(a, b *record) int {
		if c := a.entry.CreatedAt.Compare(b.entry.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.entry.ID, b.entry.ID)
	})
	return out
}

// buildUpdate assembles the update of a workload with selectors sels. The
// caller holds c.mu.
func (c *Cache) buildUpdate(sels selector.Set) *workloadapi.Update {
	u := &workloadapi.Update{Bundle: c.bundle}
	var feds map[spiffeid.TrustDomain]*spiffebundle.Bundle
	for _, r := range c.matching(sels) {
		if r.svid == nil {
			continue
		}
		u.Identities = append(u.Identities, workloadapi.Identity{
			EntryID:  r.entry.ID,
			SPIFFEID: r.svidID,
			Hint:     r.entry.Hint,
			ChainDER: r.svid.chainDER,
			KeyPKCS8: r.svid.keyPKCS8,
		})
		for _, td := range r.entry.FederatesWith {
			if b, ok := c.federated[td]; ok {
				if feds == nil {
					feds = make(map[spiffeid.TrustDomain]*spiffebundle.Bundle)
				}
				feds[td] = b
			}
		}
	}
	u.FederatedBundles = feds
	return u
}
