package server

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
)

// deps is what every service handler shares.
type deps struct {
	cfg   Config
	cache *entryCache
	// bundles follows the bundles agents fetch, for held syncs.
	bundles  *bundleCache
	metrics  *metrics
	serverID spiffeid.ID
	// auth re-checks agents whose sync was held.
	auth *agentAuthorizer
	// heldAgents are the held syncs by agent ID, woken when their agent
	// is banned, deleted, re-attested or otherwise changed, through this
	// server or (found by the agent cache) another, so that they re-check
	// it at once. Only the changed agent's syncs are woken.
	heldAgents waiters
	// notifier is the store's change announcer; nil when it has none.
	notifier datastore.ChangeNotifier
	// attestors serve AttestAgent, by attestation data type.
	attestors map[string]nodeattest.Attestor
	// attestLimit limits AttestAgent per client IP; nil when disabled.
	attestLimit *ipLimiter
	// stopping is closed when the server starts stopping, releasing held
	// syncs so that the graceful stop does not wait for them.
	stopping chan struct{}
}

// signX509 signs an X.509-SVID and counts it under kind.
func (d *deps) signX509(ctx context.Context, kind string, id spiffeid.ID, pub crypto.PublicKey, ttl time.Duration, dns []string) ([]*x509.Certificate, error) {
	chain, err := d.cfg.Authority.SignX509SVID(ctx, ca.X509SVIDParams{SPIFFEID: id, PublicKey: pub, TTL: ttl, DNSNames: dns})
	if err != nil {
		return nil, fmt.Errorf("sign X509-SVID for %q: %w", id, err)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("sign X509-SVID for %q: authority returned an empty chain", id)
	}
	d.metrics.svidSigned(kind)
	return chain, nil
}

// rawX509Signer is implemented by authorities that can return a signed
// X.509-SVID without parsing the certificate they just built, such as
// *ca.Manager. The workload SVID APIs only forward DER, so the server uses
// it when available.
type rawX509Signer interface {
	SignX509SVIDRaw(ctx context.Context, p ca.X509SVIDParams) (ca.RawX509SVID, error)
}

// signX509Raw signs a workload X.509-SVID for callers that need only its
// DER chain and expiry, and counts it under kind. It never signs an ID in
// the reserved namespace (the server's, an agent's), whatever an entry
// stored before that was refused says.
func (d *deps) signX509Raw(ctx context.Context, kind string, id spiffeid.ID, pub crypto.PublicKey, ttl time.Duration, dns []string) (ca.RawX509SVID, error) {
	if isReservedPath(id.Path()) {
		return ca.RawX509SVID{}, fmt.Errorf("refusing to sign a workload X509-SVID for %q in the reserved namespace", id)
	}
	raw, ok := d.cfg.Authority.(rawX509Signer)
	if !ok {
		chain, err := d.signX509(ctx, kind, id, pub, ttl, dns)
		if err != nil {
			return ca.RawX509SVID{}, err
		}
		out := ca.RawX509SVID{Chain: make([][]byte, len(chain)), NotAfter: chain[0].NotAfter}
		for i, c := range chain {
			out.Chain[i] = c.Raw
		}
		return out, nil
	}
	svid, err := raw.SignX509SVIDRaw(ctx, ca.X509SVIDParams{SPIFFEID: id, PublicKey: pub, TTL: ttl, DNSNames: dns})
	if err != nil {
		return ca.RawX509SVID{}, fmt.Errorf("sign X509-SVID for %q: %w", id, err)
	}
	if len(svid.Chain) == 0 {
		return ca.RawX509SVID{}, fmt.Errorf("sign X509-SVID for %q: authority returned an empty chain", id)
	}
	d.metrics.svidSigned(kind)
	return svid, nil
}

// signJWT signs a workload JWT-SVID and counts it; like signX509Raw it
// refuses the reserved namespace.
func (d *deps) signJWT(ctx context.Context, id spiffeid.ID, audience []string, ttl time.Duration) (string, error) {
	if isReservedPath(id.Path()) {
		return "", fmt.Errorf("refusing to sign a JWT-SVID for %q in the reserved namespace", id)
	}
	tok, err := d.cfg.Authority.SignJWTSVID(ctx, ca.JWTSVIDParams{SPIFFEID: id, Audience: audience, TTL: ttl})
	if err != nil {
		return "", fmt.Errorf("sign JWT-SVID for %q: %w", id, err)
	}
	d.metrics.svidSigned("jwt")
	return tok, nil
}

// ttlSeconds converts a TTL in seconds, falling back to def when zero.
func ttlSeconds(secs int32, def time.Duration) time.Duration {
	if secs <= 0 {
		return def
	}
	return time.Duration(secs) * time.Second
}
