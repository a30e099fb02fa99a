package cache

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/selector"
)

// lruFixture is a cache of X509SVIDCacheMaxSize max whose entries are
// named by their IDs, each matched by the workload selector unix:user:<ID>.
type lruFixture struct {
	t   *testing.T
	c   *Cache
	clk *testclock.Clock
	ca  *testca.CA
}

var lruTD = spiffeid.RequireTrustDomainFromString("example.org")

func newLRUFixture(t *testing.T, max int, ids ...string) *lruFixture {
	clk := testclock.New(time.Unix(1_800_000_000, 0))
	f := &lruFixture{t: t, c: New(Config{Clock: clk, X509SVIDCacheMaxSize: max}), clk: clk, ca: testca.NewForTest(t, lruTD.Name())}
	entries := make([]Entry, len(ids))
	for i, id := range ids {
		entries[i] = Entry{ID: id, SPIFFEID: spiffeid.RequireFromPath(lruTD, "/"+id), Selectors: f.sels(id), RevisionNumber: 1}
	}
	f.c.SetEntries(entries)
	return f
}

func (f *lruFixture) sels(id string) selector.Set {
	return selector.NewSet(selector.Selector{Type: "unix", Value: "user:" + id})
}

// hold gives the entries ids SVIDs valid for an hour from now, minted now.
func (f *lruFixture) hold(ids ...string) {
	svids := make(map[string]SVID)
	now := f.clk.Now()
	for _, id := range ids {
		s := f.ca.MintX509SVID(f.t, spiffeid.RequireFromPath(lruTD, "/"+id), testca.SVIDOptions{NotBefore: now, NotAfter: now.Add(time.Hour)})
		svids[id] = SVID{Chain: s.Certificates, Key: s.PrivateKey, EntryRevision: 1, MintedAt: now}
	}
	f.c.SetSVIDs(svids)
}

// use has a workload of entry id call once, a minute after the last event.
func (f *lruFixture) use(id string) {
	f.clk.Add(time.Minute)
	sub, err := f.c.Subscribe(context.Background(), f.sels(id))
	if err != nil {
		f.t.Fatal(err)
	}
	sub.Finish()
}

// connect subscribes a workload of entry id until the test ends.
func (f *lruFixture) connect(id string) {
	sub, err := f.c.Subscribe(context.Background(), f.sels(id))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(sub.Finish)
}

// held returns the IDs of the entries holding an SVID, sorted.
func (f *lruFixture) held() []string {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	var out []string
	for id, r := range f.c.records {
		if r.svid != nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// TestEvict: beyond X509SVIDCacheMaxSize, the SVIDs of the least recently
// used entries go first (never used before used, then by ID); connected
// workloads' SVIDs are kept even beyond the limit.
func TestEvict(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		setup     func(f *lruFixture)
		wantEvict int
		wantHeld  []string
		wantCount int
	}{
		{"at the limit nothing is evicted", 4, func(f *lruFixture) {}, 0, []string{"a", "b", "c", "d"}, 4},
		{"never used entries go first, by ID", 2, func(f *lruFixture) {
			f.use("d")
			f.use("c")
		}, 2, []string{"c", "d"}, 2},
		{"the least recently used goes first", 2, func(f *lruFixture) {
			f.use("a")
			f.use("b")
			f.use("c")
			f.use("d")
			f.use("a")
		}, 2, []string{"a", "d"}, 2},
		{"connected workloads keep their SVIDs beyond the limit", 1, func(f *lruFixture) {
			f.connect("a")
			f.connect("b")
			f.use("c") // more recent than a's and b's subscriptions
		}, 2, []string{"a", "b"}, 2},
		{"a workload's stream counts as a use until it ends", 1, func(f *lruFixture) {
			sub, err := f.c.Subscribe(context.Background(), f.sels("b"))
			if err != nil {
				f.t.Fatal(err)
			}
			f.use("a")
			f.clk.Add(time.Hour)
			sub.Finish() // b's workload leaves after a's call
		}, 3, []string{"b"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLRUFixture(t, tt.max, "a", "b", "c", "d")
			f.hold("a", "b", "c", "d")
			tt.setup(f)
			if got := f.c.Evict(); got != tt.wantEvict {
				t.Errorf("Evict() = %d, want %d", got, tt.wantEvict)
			}
			if got := f.held(); !slices.Equal(got, tt.wantHeld) {
				t.Errorf("held SVIDs = %v, want %v", got, tt.wantHeld)
			}
			if got := f.c.SVIDCount(); got != tt.wantCount {
				t.Errorf("SVIDCount() = %d, want %d", got, tt.wantCount)
			}
		})
	}
}

// TestStaleEntriesWithLimit: connected workloads' entries without an SVID
// come first, then held SVIDs due for renewal (only held ones are renewed),
// then, while there is room, entries without one, most recently used
// first.
func TestStaleEntriesWithLimit(t *testing.T) {
	tests := []struct {
		name  string
		max   int
		setup func(f *lruFixture)
		later time.Duration // clock advance before StaleEntries
		want  []string
	}{
		{"room fills with the most recently used, then by ID", 4, func(f *lruFixture) {
			f.use("c")
			f.use("b")
		}, 0, []string{"b", "c", "a", "d"}},
		{"the room left bounds the list", 2, func(f *lruFixture) {
			f.use("c")
		}, 0, []string{"c", "a"}},
		{"nothing beyond a full cache", 1, func(f *lruFixture) { f.hold("a") }, 0, nil},
		{"connected workloads first, even beyond the limit", 1, func(f *lruFixture) {
			f.hold("a")
			f.connect("d")
			f.connect("c")
		}, 0, []string{"c", "d"}},
		{"rotation renews only held SVIDs", 2, func(f *lruFixture) {
			f.hold("b", "d")
		}, 30 * time.Minute, []string{"b", "d"}},
		{"a connected workload's entry, then renewals, then room", 3, func(f *lruFixture) {
			f.hold("d")
			f.use("a")
			f.connect("b")
		}, 30 * time.Minute, []string{"b", "d", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLRUFixture(t, tt.max, "a", "b", "c", "d")
			tt.setup(f)
			f.clk.Add(tt.later)
			var got []string
			for _, e := range f.c.StaleEntries(f.clk.Now()) {
				got = append(got, e.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("StaleEntries = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSubscribeWaitsForMissingSVIDs: a workload whose entry holds no SVID
// (evicted, or never minted) gets no update until the SVID is minted, the
// server refuses it, the entry goes, or MintWait passes; the agent is asked
// to mint at once. A workload whose SVIDs are held gets them at once.
func TestSubscribeWaitsForMissingSVIDs(t *testing.T) {
	tests := []struct {
		name      string
		held      bool
		settle    func(f *lruFixture)
		wantIDs   []string
		wantAsked bool
	}{
		{"held SVIDs answer at once", true, func(*lruFixture) {}, []string{"a"}, false},
		{"the minted SVID ends the wait", false, func(f *lruFixture) { f.hold("a") }, []string{"a"}, true},
		{"a refused mint ends the wait", false, func(f *lruFixture) { f.c.MintFailed([]string{"a"}) }, nil, true},
		{"a deleted entry ends the wait", false, func(f *lruFixture) { f.c.SetEntries(nil) }, nil, true},
		{"the wait is bounded", false, func(f *lruFixture) {}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLRUFixture(t, 10, "a")
			f.c.mintWait = 50 * time.Millisecond
			if tt.held {
				f.hold("a")
			}
			sub, err := f.c.Subscribe(context.Background(), f.sels("a"))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Finish()
			select {
			case <-f.c.MintWanted():
				if !tt.wantAsked {
					t.Error("the agent was asked to mint for held SVIDs")
				}
			default:
				if tt.wantAsked {
					t.Error("the agent was not asked to mint")
				}
			}
			if !tt.held {
				select {
				case u := <-sub.Updates():
					t.Fatalf("update with %d identities before the SVID was settled", len(u.Identities))
				default:
				}
			}
			tt.settle(f)
			select {
			case u := <-sub.Updates():
				var got []string
				for _, id := range u.Identities {
					got = append(got, id.EntryID)
				}
				if !slices.Equal(got, tt.wantIDs) {
					t.Fatalf("identities = %v, want %v", got, tt.wantIDs)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no update")
			}
		})
	}
}

// TestSVIDCountFollowsEntries: an updated entry keeps its SVID (counted
// once), a removed one takes its SVID with it, and eviction still finds
// the updated entry's SVID.
func TestSVIDCountFollowsEntries(t *testing.T) {
	f := newLRUFixture(t, 1, "a", "b", "c")
	f.hold("a", "b", "c")
	f.c.mu.Lock()
	updated, kept := f.c.records["a"].entry, f.c.records["b"].entry
	f.c.mu.Unlock()
	updated.RevisionNumber = 2
	f.c.SetEntries([]Entry{updated, kept})
	if got := f.c.SVIDCount(); got != 2 {
		t.Fatalf("SVIDCount() after an update and a removal = %d, want 2", got)
	}
	f.use("b")
	if got := f.c.Evict(); got != 1 {
		t.Fatalf("Evict() = %d, want 1", got)
	}
	if got := f.held(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("held SVIDs = %v, want [b]", got)
	}
}
