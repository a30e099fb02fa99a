package server

import (
	"context"
	"time"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// agentWriteStore is the server's store: every agent write made through
// it, by any handler, marks the agent's cached record stale once the
// write returned (agentCache.forget), so that this server authorizes the
// agent's next call against what was written without waiting for the
// store's announcement.
type agentWriteStore struct {
	datastore.Store
	agents *agentCache
}

func (s *agentWriteStore) CreateAgent(ctx context.Context, a *datastore.Agent) (*datastore.Agent, error) {
	defer s.agents.forget(a.SPIFFEID)
	return s.Store.CreateAgent(ctx, a)
}

func (s *agentWriteStore) UpdateAgent(ctx context.Context, a *datastore.Agent) (*datastore.Agent, error) {
	defer s.agents.forget(a.SPIFFEID)
	return s.Store.UpdateAgent(ctx, a)
}

func (s *agentWriteStore) ReattestAgent(ctx context.Context, a *datastore.Agent) (*datastore.Agent, error) {
	defer s.agents.forget(a.SPIFFEID)
	return s.Store.ReattestAgent(ctx, a)
}

func (s *agentWriteStore) AttestAgent(ctx context.Context, a *datastore.Agent, joinToken string, now time.Time) (*datastore.Agent, error) {
	defer s.agents.forget(a.SPIFFEID)
	return s.Store.AttestAgent(ctx, a, joinToken, now)
}

func (s *agentWriteStore) DeleteAgent(ctx context.Context, spiffeID string) error {
	defer s.agents.forget(spiffeID)
	return s.Store.DeleteAgent(ctx, spiffeID)
}
