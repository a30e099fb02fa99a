package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/selector"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

func newFakeClock() *testclock.Clock { return testclock.New(time.Unix(1_800_000_000, 0)) }

func sel(s string) selector.Selector {
	v, err := selector.Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func sels(ss ...string) selector.Set {
	out := make([]selector.Selector, len(ss))
	for i, s := range ss {
		out[i] = sel(s)
	}
	return selector.NewSet(out...)
}

// entry builds an entry with the given ID, path and selectors.
func entry(id, path string, ss ...string) cache.Entry {
	return cache.Entry{
		ID:             id,
		SPIFFEID:       spiffeid.RequireFromPath(td, path),
		ParentID:       spiffeid.RequireFromPath(td, "/spire/agent/join_token/x"),
		Selectors:      sels(ss...),
		RevisionNumber: 1,
		CreatedAt:      time.Unix(1000, 0),
	}
}

// svidFor makes an SVID for e valid in [nb, na], from a test CA of its own
// (the cache does not verify chains).
func svidFor(t testing.TB, e cache.Entry, nb, na time.Time) cache.SVID {
	t.Helper()
	s := testca.NewForTest(t, td.Name()).MintX509SVID(t, e.SPIFFEID, testca.SVIDOptions{NotBefore: nb, NotAfter: na})
	return cache.SVID{Chain: s.Certificates, Key: s.PrivateKey, EntryRevision: e.RevisionNumber}
}

// setWithSVIDs sets entries and gives each an SVID valid for an hour.
func setWithSVIDs(t testing.TB, c *cache.Cache, now time.Time, entries ...cache.Entry) {
	t.Helper()
	c.SetEntries(entries)
	svids := make(map[string]cache.SVID)
	for _, e := range entries {
		svids[e.ID] = svidFor(t, e, now, now.Add(time.Hour))
	}
	c.SetSVIDs(svids)
}

func subscribe(t *testing.T, c *cache.Cache, ss selector.Set) workloadapi.Subscription {
	t.Helper()
	sub, err := c.Subscribe(context.Background(), ss)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(sub.Finish)
	return sub
}

// next returns the pending update; updates are pushed synchronously, so one
// must already be there.
func next(t *testing.T, sub workloadapi.Subscription) *workloadapi.Update {
	t.Helper()
	select {
	case u, ok := <-sub.Updates():
		if !ok {
			t.Fatal("subscription channel closed")
		}
		return u
	case <-time.After(2 * time.Second):
		t.Fatal("no update")
		return nil
	}
}

func noUpdate(t *testing.T, sub workloadapi.Subscription) {
	t.Helper()
	select {
	case u := <-sub.Updates():
		t.Fatalf("unexpected update with %d identities", len(u.Identities))
	default:
	}
}

func ids(u *workloadapi.Update) []string {
	out := make([]string, len(u.Identities))
	for i, id := range u.Identities {
		out[i] = id.EntryID
	}
	return out
}
