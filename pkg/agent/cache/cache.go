// Package cache holds the agent's authorized registration entries, the
// X.509-SVIDs minted for them, the trust bundles and the JWT-SVIDs fetched on
// demand, and delivers each workload the identities matching its selectors.
//
// The cache implements workloadapi.Manager. It never talks to the server by
// itself except through the JWTMinter it is given; the agent's sync loop
// feeds it entries, SVIDs and bundles.
//
// Entries are indexed by their least shared selector and subscribers by each
// of their selectors, so matching a workload visits only entries sharing a
// selector with it, and an entry change visits only subscribers that hold
// its least subscribed selector.
//
// X.509-SVIDs are held for at most X509SVIDCacheMaxSize entries, plus those
// of connected workloads (SPIRE's soft limit, x509_svid_cache_max_size): see
// svidlru.go for which SVIDs are minted, kept and evicted.
package cache

import (
	"cmp"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/selector"
)

// Clock tells the time; tests inject a fake one.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config configures a Cache.
type Config struct {
	// Clock defaults to the system clock.
	Clock Clock
	// Log defaults to slog.Default().
	Log *slog.Logger
	// JWTMinter signs JWT-SVIDs for FetchJWTSVIDs; without one,
	// FetchJWTSVIDs fails.
	JWTMinter JWTMinter
	// JWTSVIDCacheMaxSize is the most JWT-SVIDs kept for reuse (SPIRE's
	// jwt_svid_cache_max_size); the least recently used is dropped beyond
	// it. Zero means DefaultJWTSVIDCacheMaxSize.
	JWTSVIDCacheMaxSize int
	// X509SVIDCacheMaxSize is the most X.509-SVIDs held for entries no
	// connected workload matches (SPIRE's x509_svid_cache_max_size, a soft
	// limit: connected workloads' SVIDs are held beyond it). Zero means
	// DefaultX509SVIDCacheMaxSize.
	X509SVIDCacheMaxSize int
	// MintWait bounds how long a new subscription waits for the SVIDs of
	// its entries that have none before it gets what there is. Zero means
	// DefaultMintWait.
	MintWait time.Duration
}

// DefaultJWTSVIDCacheMaxSize is the JWT-SVID cache size when none is
// configured: SPIRE's default.
const DefaultJWTSVIDCacheMaxSize = 1000

// DefaultX509SVIDCacheMaxSize is the X.509-SVID cache size when none is
// configured: SPIRE's default.
const DefaultX509SVIDCacheMaxSize = 1000

// DefaultMintWait is Config.MintWait when zero: long enough for a mint
// batch from a loaded server, short enough that a workload whose agent
// cannot reach the server gets an answer.
const DefaultMintWait = 10 * time.Second

// Cache is the agent's identity cache. It is safe for concurrent use.
type Cache struct {
	clock  Clock
	log    *slog.Logger
	minter JWTMinter

	mu        sync.Mutex
	records   map[string]*record
	byKey     map[selector.Selector]map[string]*record // see index
	selCount  map[selector.Selector]int                // entries per selector
	subs      map[*subscription]struct{}
	subsBySel map[selector.Selector]map[*subscription]struct{}
	bundle    *spiffebundle.Bundle
	federated map[spiffeid.TrustDomain]*spiffebundle.Bundle
	// updates memoizes the Update of each selector set seen since the last
	// change (see updateFor); keyBuf is the scratch buffer for its keys.
	updates map[string]*workloadapi.Update
	keyBuf  []byte

	// maxSVIDs is the soft limit on held SVIDs; held is the records
	// holding one, so that eviction and rotation visit only those, not
	// every entry of a node alias parenting a whole cluster.
	maxSVIDs int
	held     map[*record]struct{}
	mintWait time.Duration
	// mintWanted (size one) tells the agent that a subscription waits for
	// SVIDs: mint now rather than at the next round.
	mintWanted chan struct{}

	jwtMu sync.Mutex
	jwts  *lru[jwtKey, cachedJWT]
}

// record is one entry and its SVID, if minted.
type record struct {
	entry  Entry
	svid   *storedSVID
	svidID spiffeid.ID       // the SVID's own ID: the entry may have changed since
	key    selector.Selector // the selector it is indexed under
	// lastUsed is when a workload matching the entry last subscribed or
	// ended a subscription; zero if never. Eviction drops the oldest.
	lastUsed time.Time
}

var _ workloadapi.Manager = (*Cache)(nil)

// New returns an empty cache.
func New(cfg Config) *Cache {
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Cache{
		clock:     cfg.Clock,
		log:       cfg.Log,
		minter:    cfg.JWTMinter,
		records:   make(map[string]*record),
		byKey:     make(map[selector.Selector]map[string]*record),
		selCount:  make(map[selector.Selector]int),
		subs:      make(map[*subscription]struct{}),
		subsBySel: make(map[selector.Selector]map[*subscription]struct{}),
		federated: make(map[spiffeid.TrustDomain]*spiffebundle.Bundle),
		updates:   make(map[string]*workloadapi.Update),
		jwts:      newLRU[jwtKey, cachedJWT](cmp.Or(cfg.JWTSVIDCacheMaxSize, DefaultJWTSVIDCacheMaxSize)),

		maxSVIDs:   max(cmp.Or(cfg.X509SVIDCacheMaxSize, DefaultX509SVIDCacheMaxSize), 1),
		mintWait:   cmp.Or(cfg.MintWait, DefaultMintWait),
		mintWanted: make(chan struct{}, 1),
		held:       make(map[*record]struct{}),
	}
}

// SetEntries replaces the authorized entries. SVIDs of removed entries are
// dropped and the subscribers they mattered to are notified at once. An
// updated entry keeps its SVID until a new one is set.
func (c *Cache) SetEntries(entries []Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dirty := make(map[*subscription]struct{})
	seen := make(map[string]struct{}, len(entries))
	var changedIDs []string
	for _, e := range entries {
		seen[e.ID] = struct{}{}
		old, ok := c.records[e.ID]
		if ok && entryEqual(old.entry, e) {
			continue
		}
		changedIDs = append(changedIDs, e.ID)
		r := &record{entry: e}
		if ok {
			c.markDirty(dirty, old.entry)
			c.unindex(old)
			r.svid, r.svidID, r.lastUsed = old.svid, old.svidID, old.lastUsed
			if _, ok := c.held[old]; ok {
				delete(c.held, old)
				c.held[r] = struct{}{}
			}
		}
		c.records[e.ID] = r
		c.index(r)
		c.markDirty(dirty, e)
	}
	for id, r := range c.records {
		if _, ok := seen[id]; ok {
			continue
		}
		changedIDs = append(changedIDs, id)
		c.markDirty(dirty, r.entry)
		c.unindex(r)
		delete(c.records, id)
		delete(c.held, r)
	}
	if len(changedIDs) == 0 {
		return
	}
	c.changed()
	c.notify(dirty)
	c.dropJWTs(changedIDs)
}

// SetSVIDs stores freshly minted SVIDs by entry ID and notifies the
// subscribers of those entries. SVIDs for unknown entries, and SVIDs
// without a certificate, key or SPIFFE ID, are ignored.
func (c *Cache) SetSVIDs(svids map[string]SVID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dirty := make(map[*subscription]struct{})
	for id, s := range svids {
		r, ok := c.records[id]
		if !ok {
			continue
		}
		stored, err := encodeSVID(s)
		if err != nil {
			c.log.Warn("ignoring invalid SVID", "entry_id", id, "error", err)
			continue
		}
		spiffeID, err := x509svid.IDFromCert(s.Chain[0])
		if err != nil {
			c.log.Warn("ignoring SVID without SPIFFE ID", "entry_id", id, "error", err)
			continue
		}
		c.held[r] = struct{}{}
		r.svid, r.svidID = stored, spiffeID
		c.markDirty(dirty, r.entry)
		c.changed()
	}
	c.notify(dirty)
}

// SetBundle replaces the agent's own trust domain bundle and notifies every
// subscriber.
func (c *Cache) SetBundle(b *spiffebundle.Bundle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bundle = b
	c.changed()
	c.notify(c.subs)
}

// SetFederatedBundles replaces the bundles of federated trust domains and
// notifies every subscriber.
func (c *Cache) SetFederatedBundles(bundles map[spiffeid.TrustDomain]*spiffebundle.Bundle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.federated = maps.Clone(bundles)
	c.changed()
	c.notify(c.subs)
}

// Bundle returns the agent's own trust domain bundle, or nil before one is
// set.
func (c *Cache) Bundle() *spiffebundle.Bundle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bundle
}

// Entries returns a snapshot of the authorized entries ordered by ID.
func (c *Cache) Entries() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Entry, 0, len(c.records))
	for _, r := range c.records {
		out = append(out, r.entry)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// FederatedTrustDomains returns every trust domain some entry federates
// with, sorted.
func (c *Cache) FederatedTrustDomains() []spiffeid.TrustDomain {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := make(map[spiffeid.TrustDomain]struct{})
	for _, r := range c.records {
		for _, td := range r.entry.FederatesWith {
			set[td] = struct{}{}
		}
	}
	return slices.SortedFunc(maps.Keys(set), func(a, b spiffeid.TrustDomain) int {
		return strings.Compare(a.Name(), b.Name())
	})
}

// index adds r to the entry index under the selector of r that the fewest
// entries share, so that selectors common to many entries (a shared gid, a
// namespace) do not turn matching into a scan. Each record is indexed once;
// a workload's candidates are the union over its selectors. Entries without
// selectors match no workload and are not indexed.
func (c *Cache) index(r *record) {
	if len(r.entry.Selectors) == 0 {
		return
	}
	for _, sel := range r.entry.Selectors {
		c.selCount[sel]++
	}
	k := r.entry.Selectors[0]
	for _, sel := range r.entry.Selectors[1:] {
		if c.selCount[sel] < c.selCount[k] {
			k = sel
		}
	}
	r.key = k
	m := c.byKey[k]
	if m == nil {
		m = make(map[string]*record)
		c.byKey[k] = m
	}
	m[r.entry.ID] = r
}

func (c *Cache) unindex(r *record) {
	if len(r.entry.Selectors) == 0 {
		return
	}
	for _, sel := range r.entry.Selectors {
		if c.selCount[sel]--; c.selCount[sel] == 0 {
			delete(c.selCount, sel)
		}
	}
	delete(c.byKey[r.key], r.entry.ID)
	if len(c.byKey[r.key]) == 0 {
		delete(c.byKey, r.key)
	}
}

// markDirty adds to dirty every subscriber that e matches. A matching
// subscriber holds every selector of e, so only the subscribers of e's
// least subscribed selector are candidates.
func (c *Cache) markDirty(dirty map[*subscription]struct{}, e Entry) {
	if len(e.Selectors) == 0 {
		return
	}
	cands := c.subsBySel[e.Selectors[0]]
	for _, sel := range e.Selectors[1:] {
		if m := c.subsBySel[sel]; len(m) < len(cands) {
			cands = m
		}
	}
	for s := range cands {
		if e.Selectors.IsSubsetOf(s.sels) {
			dirty[s] = struct{}{}
		}
	}
}

// entryEqual reports whether two versions of an entry are the same for the
// cache's purposes.
func entryEqual(a, b Entry) bool {
	return a.ID == b.ID && a.RevisionNumber == b.RevisionNumber &&
		a.SPIFFEID == b.SPIFFEID && a.ParentID == b.ParentID &&
		slices.Equal(a.Selectors, b.Selectors) &&
		slices.Equal(a.FederatesWith, b.FederatesWith) &&
		slices.Equal(a.DNSNames, b.DNSNames) && a.Hint == b.Hint &&
		a.CreatedAt.Equal(b.CreatedAt) &&
		a.X509SVIDTTL == b.X509SVIDTTL && a.JWTSVIDTTL == b.JWTSVIDTTL
}

// Revision returns the revision number and creation time of the entry with
// the given ID, and whether the cache holds it. The agent's sync compares
// the server's revisions with it in place, so an unchanged set of entries
// costs no copy of them.
func (c *Cache) Revision(id string) (revision int64, createdAt time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.records[id]
	if !ok {
		return 0, time.Time{}, false
	}
	return r.entry.RevisionNumber, r.entry.CreatedAt, true
}

// Len returns the number of authorized entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.records)
}
