package server

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// bundleCache keeps a digest of every bundle an agent may fetch: the
// authority's own bundle (what GetBundle serves) and each stored bundle
// (what GetFederatedBundle serves), reloaded when the store's bundles
// revision changes. It broadcasts every change to the held syncs, so that
// a bundle written by anyone (the CA, the bundle API, the federation
// fetcher, another server process sharing the store) reaches agents without
// the writer calling anything.
type bundleCache struct {
	store     datastore.Store
	authority Authority
	// changed is notified when a snapshot differs from the one before.
	changed broadcast

	// maxAge is how long a snapshot is trusted without reading the
	// store's revision (see storeCheckInterval).
	maxAge time.Duration
	// ownAnnounced says the authority announces its bundle changes
	// (bundleSubscriber); otherwise snapshot compares its bundle every
	// revisionCheckInterval, in memory, whatever maxAge says.
	ownAnnounced bool

	mu           sync.Mutex
	snap         *bundleSnapshot
	checkedAt    time.Time
	ownCheckedAt time.Time
	dirty        bool
}

func newBundleCache(store datastore.Store, authority Authority) *bundleCache {
	_, announced := authority.(bundleSubscriber)
	return &bundleCache{store: store, authority: authority, dirty: true, maxAge: revisionCheckInterval, ownAnnounced: announced}
}

// bundleSnapshot is an immutable view of the bundles' digests.
type bundleSnapshot struct {
	revision int64
	// own is the digest of the authority's bundle.
	own [sha256.Size]byte
	// stored maps a trust domain name to the digest of its stored bundle.
	stored map[string][sha256.Size]byte
}

// invalidate makes the next snapshot call consult the authority and the
// store; the authority's bundle notifications call it.
func (c *bundleCache) invalidate() {
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
}

// recheck makes the next snapshot call read the store's revision even
// within maxAge; the store's change notifications call it.
func (c *bundleCache) recheck() {
	c.mu.Lock()
	c.checkedAt = time.Time{}
	c.mu.Unlock()
}

// changes returns a channel closed at the next bundle change. Take it
// before reading a snapshot, so that no change is missed in between.
func (c *bundleCache) changes() <-chan struct{} { return c.changed.wait() }

// snapshot returns a snapshot no older than maxAge, and
// announces a change it finds.
func (c *bundleCache) snapshot(ctx context.Context) (*bundleSnapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now() // real time: this throttles database access
	if !c.dirty && c.snap != nil && now.Sub(c.checkedAt) < c.maxAge {
		if c.ownAnnounced || now.Sub(c.ownCheckedAt) < revisionCheckInterval {
			return c.snap, nil
		}
		return c.checkOwn(now)
	}
	rev, err := c.store.BundlesRevision(ctx)
	if err != nil {
		return stale(c.snap, &c.checkedAt, now, fmt.Errorf("read bundles revision: %w", err))
	}
	own, err := bundleDigest(c.authority.Bundle())
	if err != nil {
		return nil, err
	}
	next := c.snap
	switch {
	case c.snap == nil || rev != c.snap.revision:
		bundles, err := c.store.ListBundles(ctx)
		if err != nil {
			return stale(c.snap, &c.checkedAt, now, fmt.Errorf("list bundles: %w", err))
		}
		next = &bundleSnapshot{revision: rev, own: own, stored: make(map[string][sha256.Size]byte, len(bundles))}
		for _, b := range bundles {
			next.stored[b.TrustDomain] = sha256.Sum256(b.Data)
		}
	case own != c.snap.own:
		next = &bundleSnapshot{revision: rev, own: own, stored: c.snap.stored}
	}
	announce := c.snap != nil && next != c.snap && !next.sameAs(c.snap)
	c.snap = next
	c.checkedAt, c.ownCheckedAt = now, now
	c.dirty = false
	if announce {
		c.changed.notify()
	}
	return c.snap, nil
}

// checkOwn compares the authority's bundle, which is in memory, with the
// snapshot's, for an authority that does not announce its changes, and
// announces a change. The caller holds c.mu and a snapshot.
func (c *bundleCache) checkOwn(now time.Time) (*bundleSnapshot, error) {
	own, err := bundleDigest(c.authority.Bundle())
	if err != nil {
		return nil, err
	}
	c.ownCheckedAt = now
	if own != c.snap.own {
		c.snap = &bundleSnapshot{revision: c.snap.revision, own: own, stored: c.snap.stored}
		c.changed.notify()
	}
	return c.snap, nil
}

// sameAs reports whether s and o hold the same digests.
func (s *bundleSnapshot) sameAs(o *bundleSnapshot) bool {
	if s.own != o.own || len(s.stored) != len(o.stored) {
		return false
	}
	for td, d := range s.stored {
		if od, ok := o.stored[td]; !ok || od != d {
			return false
		}
	}
	return true
}

// digestFor returns the hex digest of the bundles an agent with the
// authorized set fetches: its own trust domain's and those of the trust
// domains the set's entries federate with. It changes exactly when one of
// them changes, appears or disappears.
func (s *bundleSnapshot) digestFor(set *authorizedSet) string {
	h := sha256.New()
	h.Write(s.own[:])
	buf := make([]byte, 0, 64)
	for _, td := range set.federatedTrustDomains() {
		// The length prefix keeps names unambiguous; a missing bundle
		// hashes as the name alone.
		buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(td)))
		buf = append(buf, td...)
		if d, ok := s.stored[td]; ok {
			buf = append(buf, d[:]...)
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// bundleDigest hashes what agents receive of b: its X.509 authorities in
// order, its JWT authorities by key ID, its refresh hint and sequence
// number; nil hashes as nothing. It hashes a canonical form, not the
// bundle document: Marshal lists JWT authorities in map order, which
// differs between calls once there are two (several servers, or a
// prepared next key), and every held sync would then end at each check.
func bundleDigest(b *spiffebundle.Bundle) ([sha256.Size]byte, error) {
	if b == nil {
		return [sha256.Size]byte{}, nil
	}
	h := sha256.New()
	field := func(p []byte) {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
		h.Write(p)
	}
	x509s, jwt := b.X509Authorities(), b.JWTAuthorities()
	field(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, uint32(len(x509s))), uint64(len(jwt))))
	for _, c := range x509s {
		field(c.Raw)
	}
	for _, id := range slices.Sorted(maps.Keys(jwt)) {
		der, err := x509.MarshalPKIXPublicKey(jwt[id])
		if err != nil {
			return [sha256.Size]byte{}, fmt.Errorf("own bundle: jwt authority %q: %w", id, err)
		}
		field([]byte(id))
		field(der)
	}
	hint, _ := b.RefreshHint()
	seq, _ := b.SequenceNumber()
	field(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(hint)), seq))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// federatedTrustDomains returns the names of the trust domains the set's
// entries federate with ("spiffe://td" and "td" alike, as agents read
// them), sorted and without duplicates, computed once per set. Names that
// do not parse are left out: agents skip them too.
func (s *authorizedSet) federatedTrustDomains() []string {
	s.federated.once.Do(func() {
		var tds []string
		for _, ce := range s.entries {
			for _, name := range ce.entry.FederatesWith {
				if td, err := spiffeid.TrustDomainFromString(name); err == nil {
					tds = append(tds, td.Name())
				}
			}
		}
		slices.Sort(tds)
		s.federated.tds = slices.Compact(tds)
	})
	return s.federated.tds
}

// setFederated memoises an authorized set's federated trust domains.
type setFederated struct {
	once sync.Once
	tds  []string
}
