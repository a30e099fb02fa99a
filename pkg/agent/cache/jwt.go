package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/selector"
)

// JWTMinter signs a JWT-SVID for an authorized entry; the agent implements
// it with the server's NewJWTSVID RPC.
type JWTMinter interface {
	MintJWTSVID(ctx context.Context, entryID string, audience []string) (workloadapi.JWTSVID, error)
}

// jwtKey identifies a cached JWT-SVID: the entry and its sorted, unique
// audience joined with NUL.
type jwtKey struct {
	entryID  string
	audience string
}

type cachedJWT struct {
	svid     workloadapi.JWTSVID
	issuedAt time.Time
}

// FetchJWTSVIDs returns a JWT-SVID for audience for every entry matching
// sels (only those with SPIFFE ID spiffeID when it is not zero), in the same
// order as X.509 identities. A cached token is reused until half of its
// lifetime has passed; the cache keeps the JWTSVIDCacheMaxSize most
// recently used tokens. An audience beyond the Workload API's limits
// (workloadapi.CheckAudience) is refused. No matching entry gives an empty
// result and no error.
func (c *Cache) FetchJWTSVIDs(ctx context.Context, sels selector.Set, audience []string, spiffeID spiffeid.ID) ([]workloadapi.JWTSVID, error) {
	if len(audience) == 0 {
		return nil, errors.New("fetch JWT-SVIDs: audience is required")
	}
	if err := workloadapi.CheckAudience(audience); err != nil {
		return nil, fmt.Errorf("fetch JWT-SVIDs: %w", err)
	}
	if c.minter == nil {
		return nil, errors.New("fetch JWT-SVIDs: no JWT minter configured")
	}
	aud := slices.Compact(slices.Sorted(slices.Values(audience)))
	audKey := strings.Join(aud, "\x00")

	c.mu.Lock()
	var entries []Entry
	for _, r := range c.matching(selector.NewSet(sels...)) {
		if spiffeID.IsZero() || r.entry.SPIFFEID == spiffeID {
			entries = append(entries, r.entry)
		}
	}
	c.mu.Unlock()

	out := make([]workloadapi.JWTSVID, 0, len(entries))
	for _, e := range entries {
		svid, err := c.jwtFor(ctx, e, aud, jwtKey{entryID: e.ID, audience: audKey})
		if err != nil {
			return nil, fmt.Errorf("fetch JWT-SVID for entry %q: %w", e.ID, err)
		}
		out = append(out, svid)
	}
	return out, nil
}

// jwtFor returns the cached token for k while fresh, or mints a new one.
// Minting happens without holding a lock; two concurrent callers may both
// mint, and the later result wins, which is harmless.
func (c *Cache) jwtFor(ctx context.Context, e Entry, aud []string, k jwtKey) (workloadapi.JWTSVID, error) {
	now := c.clock.Now()
	c.jwtMu.Lock()
	cached, ok := c.jwts.get(k)
	c.jwtMu.Unlock()
	if ok && !HalfLifeReached(cached.issuedAt, cached.svid.ExpiresAt, now) {
		return cached.svid, nil
	}
	svid, err := c.minter.MintJWTSVID(ctx, e.ID, aud)
	if err != nil {
		return workloadapi.JWTSVID{}, err
	}
	if svid.Hint == "" {
		svid.Hint = e.Hint
	}
	c.jwtMu.Lock()
	c.jwts.add(k, cachedJWT{svid: svid, issuedAt: now})
	c.jwtMu.Unlock()
	return svid, nil
}

// dropJWTs forgets the tokens of removed or updated entries.
func (c *Cache) dropJWTs(entryIDs []string) {
	if len(entryIDs) == 0 {
		return
	}
	drop := make(map[string]struct{}, len(entryIDs))
	for _, id := range entryIDs {
		drop[id] = struct{}{}
	}
	c.jwtMu.Lock()
	defer c.jwtMu.Unlock()
	c.jwts.deleteFunc(func(k jwtKey, _ cachedJWT) bool {
		_, ok := drop[k.entryID]
		return ok
	})
}
