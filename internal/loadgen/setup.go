package loadgen

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"golang.org/x/sync/errgroup"
)

// tokenTTL is the join tokens' lifetime: long enough for the slowest ramp.
const tokenTTL = 24 * time.Hour

// setupWorkers is how many admin calls the setup runs at once.
const setupWorkers = 8

// token returns agent i's join token.
func (r *runner) token(i int) string { return r.cfg.RunID + "-" + strconv.Itoa(i) }

// probeAgents is how many probe agents the prober process runs; probe
// agent i is attached to server i%len(Servers), as fleet agents are.
func (r *runner) probeAgents() int { return r.cfg.ProbeAgentsPerServer * len(r.cfg.Servers) }

// probeToken returns probe agent i's join token.
func (r *runner) probeToken(i int) string { return r.cfg.RunID + "-probe-" + strconv.Itoa(i) }

// trustBundle returns the union of the servers' X.509 authorities: with
// several servers each publishes its own into the shared bundle.
func (r *runner) trustBundle(ctx context.Context) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, a := range r.admins {
		certs, err := a.bundle(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if !slices.ContainsFunc(out, c.Equal) {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// setup creates every agent's join token and its entries, and the probe
// agents' tokens, spreading the admin calls over the servers.
func (r *runner) setup(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(setupWorkers)
	for i := range r.cfg.Agents {
		g.Go(func() error {
			return r.admins[i%len(r.admins)].createToken(gctx, r.token(i), tokenTTL)
		})
	}
	for i := range r.probeAgents() {
		g.Go(func() error {
			return r.admins[i%len(r.admins)].createToken(gctx, r.probeToken(i), tokenTTL)
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(setupWorkers)
	batch := make([]*types.Entry, 0, entryBatch)
	n := 0
	flush := func() {
		b := batch
		a := r.admins[n%len(r.admins)]
		n++
		g.Go(func() error {
			_, err := a.createEntries(gctx, b)
			return err
		})
		batch = make([]*types.Entry, 0, entryBatch)
	}
	td := r.cfg.TrustDomain.Name()
	for i := range r.cfg.Agents {
		parent := "/spire/agent/join_token/" + r.token(i)
		for j := range r.cfg.EntriesPerAgent {
			batch = append(batch, &types.Entry{
				SpiffeId:    &types.SPIFFEID{TrustDomain: td, Path: fmt.Sprintf("/lg/%s/%d/%d", r.cfg.RunID, i, j)},
				ParentId:    &types.SPIFFEID{TrustDomain: td, Path: parent},
				Selectors:   []*types.Selector{{Type: "unix", Value: "uid:" + strconv.Itoa(j)}},
				X509SvidTtl: int32(r.cfg.X509SVIDTTL / time.Second),
			})
			if len(batch) == entryBatch {
				flush()
			}
		}
	}
	if len(batch) > 0 {
		flush()
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

// proberSetup is what the prober process needs to run the probe agents.
func (r *runner) proberSetup(bundle []*x509.Certificate) proberSetup {
	s := proberSetup{
		TrustDomain: r.cfg.TrustDomain.Name(),
		DataDir:     filepath.Join(r.cfg.DataDir, "prober"),
		RunID:       r.cfg.RunID,
		X509SVIDTTL: r.cfg.X509SVIDTTL,
	}
	for _, c := range bundle {
		s.Bundle = append(s.Bundle, c.Raw)
	}
	for _, t := range r.cfg.Servers {
		s.Servers = append(s.Servers, proberServer{Name: t.Name, Address: t.Address, AdminSocket: t.AdminSocket})
	}
	for i := range r.probeAgents() {
		s.Tokens = append(s.Tokens, r.probeToken(i))
	}
	return s
}
