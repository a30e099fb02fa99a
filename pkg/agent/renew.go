package agent

import (
	"context"
	"fmt"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"

	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/agent/svidstore"
)

// renewIfDue keeps the agent SVID fresh once it reached half its lifetime.
// A re-attestable agent (the server answered Reattestable, as for k8s_psat)
// attests again with fresh attestation data, as SPIRE's agent does; others
// renew with RenewAgent and a fresh key. Either way the new SVID is
// persisted and the connection replaced so the server sees it. An SVID
// that expired while the server was unreachable cannot be renewed, so it
// is replaced by attesting again when an attestor is configured.
func (a *Agent) renewIfDue(ctx context.Context) error {
	leaf := a.svid.Load().Chain[0]
	now := a.cfg.Clock.Now()
	if !now.Before(leaf.NotAfter) {
		// Offline past the SVID's expiry: renewal is impossible, since the
		// server rejects the expired certificate.
		if a.attestor == nil {
			return fmt.Errorf("agent SVID expired at %v and no join token is configured; provide a new join token and restart", leaf.NotAfter)
		}
		a.log.Warn("agent SVID expired; attesting again", "expired_at", leaf.NotAfter)
		return a.reattest(ctx)
	}
	if !cache.RotationDue(leaf.NotBefore, leaf.NotAfter, a.svidReceived, now) {
		return nil
	}
	if a.reattestable && a.attestor != nil {
		a.log.Info("agent SVID at half life; attesting again", "expires_at", leaf.NotAfter)
		return a.reattest(ctx)
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

// reattest attests the node again and switches to the new identity.
func (a *Agent) reattest(ctx context.Context) error {
	if err := a.attest(ctx); err != nil {
		return err
	}
	a.reconnect()
	return nil
}
