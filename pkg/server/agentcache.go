package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// agentCache keeps the record of each agent that calls this server, so
// that authorizing an agent's call reads the database only on the
// agent's first call and after the agent changed: idle agents cost no
// queries. It learns of changes from the store's agent change log
// (datastore.Store.AgentChangesSince), which it reads when the store
// announces a write (datastore.ChangeNotifier: at once, from every server
// sharing a PostgreSQL database), every maxAge as a safety net, and
// through forget for this server's own writes. Only the agents the log
// names are read again, on their next call: an attestation elsewhere
// does not make this server re-read the agents it holds.
//
// While the store cannot reach its database a lookup answers with the
// record last read, changed or not: bans, evictions and renewals are
// writes, which fail while the database is down, so the last record read
// is still the truth as far as any server can tell, and the agent keeps
// being served from memory.
type agentCache struct {
	store datastore.Store
	// maxAge is how long the records are trusted without a look at the
	// change log: revisionCheckInterval on a store that does not announce
	// its writes, notifiedCheckInterval on one that does.
	maxAge time.Duration
	// held are the held syncs by agent ID: a check wakes those of the
	// agents the change log names, so that they re-check them.
	held *waiters

	// checking serialises the reads of the change log.
	checking sync.Mutex

	mu      sync.Mutex
	records map[string]*agentRecord
	// rev is the agents revision the records are known to be current at,
	// once known.
	rev   int64
	known bool
	// dirty says the store announced a write not read yet.
	dirty     bool
	checkedAt time.Time
	// retryAt holds the next read back after the database was unreachable.
	retryAt time.Time
	// epoch grows whenever records may have become stale, so that a read
	// that raced a change does not store its result as current.
	epoch uint64
}

// agentRecord is an agent as last read; fresh says no change has been
// logged for it since.
type agentRecord struct {
	agent *datastore.Agent
	fresh bool
}

func newAgentCache(store datastore.Store, maxAge time.Duration, held *waiters) *agentCache {
	return &agentCache{store: store, maxAge: maxAge, held: held, records: make(map[string]*agentRecord)}
}

// recheck makes the next lookup read the change log first; the store's
// change announcements call it.
func (c *agentCache) recheck() {
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
}

// forget marks the agent's record stale; this server's agent writes call
// it once they returned, so that its next call is authorized against what
// they wrote.
func (c *agentCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if r := c.records[id]; r != nil {
		r.fresh = false
	}
}

// reread reads the agent from the store, as lookup does for an agent
// without a current record, whatever the cache holds.
func (c *agentCache) reread(ctx context.Context, id string) (*datastore.Agent, error) {
	c.mu.Lock()
	if r := c.records[id]; r != nil {
		r.fresh = false
	}
	c.mu.Unlock()
	return c.lookup(ctx, id)
}

// lookup returns a copy of the agent's record, reading the store only
// when the cache holds no current record of it.
func (c *agentCache) lookup(ctx context.Context, id string) (*datastore.Agent, error) {
	if err := c.check(ctx); err != nil && !errors.Is(err, datastore.ErrUnavailable) {
		return nil, err
	}
	c.mu.Lock()
	if r := c.records[id]; r != nil && r.fresh {
		defer c.mu.Unlock()
		return copyAgent(r.agent), nil
	}
	epoch, known := c.epoch, c.known
	c.mu.Unlock()
	agent, err := c.store.GetAgent(ctx, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		// A change logged while the read ran may or may not be in it.
		c.records[id] = &agentRecord{agent: agent, fresh: known && epoch == c.epoch}
		return copyAgent(agent), nil
	case errors.Is(err, datastore.ErrNotFound):
		delete(c.records, id)
	case errors.Is(err, datastore.ErrUnavailable):
		if last := c.records[id]; last != nil {
			return copyAgent(last.agent), nil
		}
	}
	return nil, err
}

// check reads the agent change log when the store announced a write or
// maxAge passed since the last read, and marks the records it names
// stale. A failed read is retried after revisionCheckInterval, not on
// every call, so that a dead database is not asked once per agent call.
func (c *agentCache) check(ctx context.Context) error {
	c.mu.Lock()
	due := c.due(time.Now())
	c.mu.Unlock()
	if !due {
		return nil
	}
	c.checking.Lock()
	defer c.checking.Unlock()
	now := time.Now() // real time: this throttles database access
	c.mu.Lock()
	if !c.due(now) {
		c.mu.Unlock()
		return nil
	}
	since := c.rev
	if !c.known {
		since = -1 // the revision alone
	}
	// An announcement during the read must trigger another one.
	c.dirty = false
	c.mu.Unlock()

	changes, err := c.store.AgentChangesSince(ctx, since)

	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.dirty = true
		if errors.Is(err, datastore.ErrUnavailable) {
			c.retryAt = now.Add(revisionCheckInterval)
		}
		return fmt.Errorf("read agent changes: %w", err)
	}
	switch {
	case !changes.Complete:
		// Every record may be stale: read before the revision was
		// known, or the log no longer reaches back.
		c.epoch++
		hit := false
		for _, r := range c.records {
			hit = hit || r.fresh
			r.fresh = false
		}
		if hit && c.held != nil {
			c.held.wakeAll()
		}
	case len(changes.IDs) > 0:
		c.epoch++
		for _, id := range changes.IDs {
			if r := c.records[id]; r != nil {
				r.fresh = false
			}
		}
		// Whether or not their records were fresh: a record this
		// server's own write already marked stale may have changed
		// again since, through another server.
		if c.held != nil {
			c.held.wake(slices.Values(changes.IDs))
		}
	}
	c.rev, c.known, c.checkedAt, c.retryAt = changes.Revision, true, now, time.Time{}
	return nil
}

// due reports whether a lookup at now must read the change log first.
// The caller holds c.mu.
func (c *agentCache) due(now time.Time) bool {
	if now.Before(c.retryAt) {
		return false
	}
	return c.dirty || !c.known || now.Sub(c.checkedAt) >= c.maxAge
}

// copyAgent returns a copy of a that callers may modify; its selectors are
// shared, and never modified.
func copyAgent(a *datastore.Agent) *datastore.Agent {
	out := *a
	return &out
}
