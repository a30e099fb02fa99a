package agent

import (
	"context"
	"fmt"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"

	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/agent/svidstore"
)

// renewIfDue renews the agent SVID with a fresh key once it reached half its
// lifetime, persists it and reconnects so the server sees the new SVID.
func (a *Agent) renewIfDue(ctx context.Context) error {
	cur := a.svid.Load()
	leaf := cur.Chain[0]
	if !cache.HalfLifeReached(leaf.NotBefore, leaf.NotAfter, a.cfg.Clock.Now()) {
		return nil
	}
	conn, err := a.client()
	if err != nil {
		return err
	}
	key, csr, err := newKeyAndCSR()
	if err != nil {
		return fmt.Errorf("renew agent SVID: %w", err)
	}
	resp, err := agentv1.NewAgentClient(conn).RenewAgent(ctx, &agentv1.RenewAgentRequest{
		Params: &agentv1.AgentX509SVIDParams{Csr: csr},
	})
	if err != nil {
		return fmt.Errorf("renew agent SVID: %w", err)
	}
	chain, err := parseSVID(resp.GetSvid(), key)
	if err != nil {
		return fmt.Errorf("renew agent SVID: %w", err)
	}
	id := svidstore.Identity{Chain: chain, Key: key}
	if err := a.store.StoreIdentity(id); err != nil {
		return fmt.Errorf("renew agent SVID: %w", err)
	}
	a.svid.Store(&id)
	a.reconnect()
	a.metrics.renewals.Inc()
	a.log.Info("agent SVID renewed", "spiffe_id", uriString(chain[0]), "expires_at", chain[0].NotAfter)
	return nil
}
