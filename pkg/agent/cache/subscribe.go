package cache

import (
	"context"
	"fmt"
	"slices"
	"strings"

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
}

// Subscribe returns a subscription that yields the current identities of a
// workload with selectors sels at once, then every change. It ends when ctx
// is done or Finish is called. Updates are shared with the cache and other
// subscribers and must not be modified.
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
	s.push(c.updateFor(s.sels))
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

// notify sends a fresh update to every subscriber in dirty. The caller holds
// c.mu.
func (c *Cache) notify(dirty map[*subscription]struct{}) {
	for s := range dirty {
		s.push(c.updateFor(s.sels))
	}
}

// matching returns the records whose selectors are a subset of sels, in
// entry creation order, then entry ID. The caller holds c.mu.
func (c *Cache) matching(sels selector.Set) []*record {
	var out []*record
	for _, sel := range sels {
		for _, r := range c.byKey[sel] {
			if r.entry.Selectors.IsSubsetOf(sels) {
				out = append(out, r)
			}
		}
	}
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
