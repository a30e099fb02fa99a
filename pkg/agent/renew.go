package agent

import (
	"context"
	"fmt"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"

	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/agent/svidstore"
)

// renewIfDue renews the agent SVID with a fresh key once it reached half its
// lifetime, persists it and reconnects so the server sees the new SVID. An
// SVID that expired while the server was unreachable is replaced by
// attesting again when a join token is configured.
func (a *Agent) renewIfDue(ctx context.Context) error {
	leaf := a.svid.Load().Chain[0]
	now := a.cfg.Clock.Now()
	if !now.Before(leaf.NotAfter) {
		// Offline past the SVID's expiry: renewal is impossible, since the
		// server rejects the expired certificate.
		if a.cfg.JoinToken == "" {
			return fmt.Errorf("agent SVID expired at %v and no join token is configured; provide a new join token and restart", leaf.NotAfter)
		}
		a.log.Warn("agent SVID expired; attesting again with the join token", "expired_at", leaf.NotAfter)
		if err := a.attest(ctx); err != nil {
			return err
		}
		a.reconnect()
		return nil
	}
	if !cache.RotationDue(leaf.NotBefore, leaf.NotAfter, a.svidReceived, now) {
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
	a.svidReceived = now
	a.reconnect()
	a.metrics.renewals.Inc()
	a.log.Info("agent SVID renewed", "spiffe_id", uriString(chain[0]), "expires_at", chain[0].NotAfter)
	return nil
}
