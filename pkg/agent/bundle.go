package agent

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// bundlePollPeriods are how often the agent fetches its bundles.
type bundlePollPeriods struct {
	// poll is the period against a server that does not announce bundle
	// changes (SPIRE).
	poll time.Duration
	// announced is the period while the server announces them.
	announced time.Duration
	// follow is how long after an announced change the agent still polls
	// every poll period.
	follow time.Duration
}

// defaultBundlePoll are the agent's bundle poll periods.
//
// Against a SPIRE server the agent polls every 5 s (SPIRE's agent sync
// period): CA rotation publishes a next authority at half of the CA's
// lifetime, long before it signs anything, so that is ample.
//
// An svidkit server announces bundle changes: every held entry sync
// carries the digest of the agent's bundles and ends when they change, and
// every answer (at the latest when the hold times out) is compared with
// the last digest, so the agent fetches at once when they change. The poll
// is then only a safety net, every 5 minutes; polling every 5 s made
// 10,000 idle agents send a server 2,000 GetBundle calls per second for
// nothing. For a minute after an announced change the agent still polls
// every 5 s: with several servers its fetch may reach one that has not yet
// loaded the change the announcing server saw, and the next announcement
// carries the same digest.
var defaultBundlePoll = bundlePollPeriods{
	poll:      5 * time.Second,
	announced: 5 * time.Minute,
	follow:    time.Minute,
}

// bundleRefreshPeriod is the bundle poll period at now: short against a
// server that does not announce bundle changes and for a while after an
// announced change, long otherwise.
func (a *Agent) bundleRefreshPeriod(now time.Time) time.Duration {
	if a.bundlesAnnounced.Load() && now.UnixNano() > a.bundleFollowUntil.Load() {
		return a.bundlePoll.announced
	}
	return a.bundlePoll.poll
}

// followBundleChange keeps the bundle poll short for bundlePoll.follow
// after the server announced a bundle change at now.
func (a *Agent) followBundleChange(now time.Time) {
	a.bundleFollowUntil.Store(now.Add(a.bundlePoll.follow).UnixNano())
}

// bundleFromProto converts an API bundle; tainted authorities are kept, as
// SVIDs they signed may still need verifying until they are removed.
func bundleFromProto(pb *types.Bundle) (*spiffebundle.Bundle, error) {
	td, err := spiffeid.TrustDomainFromString(pb.GetTrustDomain())
	if err != nil {
		return nil, fmt.Errorf("bundle trust domain %q: %w", pb.GetTrustDomain(), err)
	}
	b := spiffebundle.New(td)
	for i, a := range pb.GetX509Authorities() {
		c, err := x509.ParseCertificate(a.GetAsn1())
		if err != nil {
			return nil, fmt.Errorf("bundle %q: x509 authority %d: %w", td, i, err)
		}
		b.AddX509Authority(c)
	}
	for i, k := range pb.GetJwtAuthorities() {
		pub, err := x509.ParsePKIXPublicKey(k.GetPublicKey())
		if err != nil {
			return nil, fmt.Errorf("bundle %q: jwt authority %d (%q): %w", td, i, k.GetKeyId(), err)
		}
		if err := b.AddJWTAuthority(k.GetKeyId(), pub); err != nil {
			return nil, fmt.Errorf("bundle %q: jwt authority %d: %w", td, i, err)
		}
	}
	if pb.GetRefreshHint() > 0 {
		b.SetRefreshHint(time.Duration(pb.GetRefreshHint()) * time.Second)
	}
	b.SetSequenceNumber(pb.GetSequenceNumber())
	return b, nil
}

// applyBundle makes b the agent's own bundle: it verifies the server from
// now on, is persisted for restarts and is served to workloads.
func (a *Agent) applyBundle(b *spiffebundle.Bundle) error {
	if len(b.X509Authorities()) == 0 {
		return fmt.Errorf("bundle for %q has no X.509 authorities", b.TrustDomain())
	}
	if err := a.store.StoreBundle(b.X509Authorities()); err != nil {
		return err
	}
	a.trust.Store(b.X509Bundle())
	a.cache.SetBundle(b)
	return nil
}

// refreshBundles fetches the own and federated bundles at most once per
// bundle poll period (bundleRefreshPeriod) and applies those that changed.
func (a *Agent) refreshBundles(ctx context.Context) error {
	now := time.Now()
	if now.Sub(a.lastBundleFetch) < a.bundleRefreshPeriod(now) {
		return nil
	}
	conn, err := a.client()
	if err != nil {
		return err
	}
	client := bundlev1.NewBundleClient(conn)
	a.metrics.bundleFetches.Inc()
	pb, err := client.GetBundle(ctx, &bundlev1.GetBundleRequest{})
	if err != nil {
		return fmt.Errorf("get bundle: %w", err)
	}
	b, err := bundleFromProto(pb)
	if err != nil {
		return fmt.Errorf("get bundle: %w", err)
	}
	if b.TrustDomain() != a.cfg.TrustDomain {
		return fmt.Errorf("get bundle: server sent trust domain %q, want %q", b.TrustDomain(), a.cfg.TrustDomain)
	}
	if cur := a.cache.Bundle(); cur == nil || !cur.Equal(b) {
		if err := a.applyBundle(b); err != nil {
			return fmt.Errorf("get bundle: %w", err)
		}
		seq, _ := b.SequenceNumber()
		a.log.Info("trust bundle updated", "sequence_number", seq, "x509_authorities", len(b.X509Authorities()), "jwt_authorities", len(b.JWTAuthorities()))
	}
	a.refreshFederated(ctx, client)
	a.lastBundleFetch = now
	return nil
}

// refreshFederated fetches the bundles of the trust domains entries
// federate with. A bundle the server does not have (NotFound: never set, or
// deleted) is dropped; one it cannot serve now keeps its last version:
// workloads get the others either way.
func (a *Agent) refreshFederated(ctx context.Context, client bundlev1.BundleClient) {
	tds := a.cache.FederatedTrustDomains()
	next := make(map[spiffeid.TrustDomain]*spiffebundle.Bundle, len(tds))
	for _, td := range tds {
		pb, err := client.GetFederatedBundle(ctx, &bundlev1.GetFederatedBundleRequest{TrustDomain: td.Name()})
		if err != nil {
			c := status.Code(err)
			lvl := a.log.Warn
			if c == codes.NotFound || c == codes.Unimplemented {
				lvl = a.log.Debug
			}
			lvl("federated bundle unavailable", "trust_domain", td, "error", err)
			if old, ok := a.federated[td]; ok && c != codes.NotFound {
				next[td] = old
			}
			continue
		}
		b, err := bundleFromProto(pb)
		if err != nil || b.TrustDomain() != td {
			a.log.Warn("federated bundle invalid", "trust_domain", td, "error", err)
			continue
		}
		next[td] = b
	}
	if federatedEqual(a.federated, next) {
		return
	}
	a.federated = next
	a.cache.SetFederatedBundles(next)
}

func federatedEqual(a, b map[spiffeid.TrustDomain]*spiffebundle.Bundle) bool {
	if len(a) != len(b) {
		return false
	}
	for td, x := range a {
		if y, ok := b[td]; !ok || !x.Equal(y) {
			return false
		}
	}
	return true
}
