package cache_test

import (
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/agent/cache"
	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
)

// TestSubscribersShareUpdates checks that workloads with the same
// selectors receive the same *Update until something changes, which is
// what lets the Workload API reuse the response built from it.
func TestSubscribersShareUpdates(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	a := entry("a", "/a", "unix:uid:1")
	b := entry("b", "/b", "unix:uid:2")
	setWithSVIDs(t, c, clk.Now(), a, b)
	wl := sels("unix:uid:1", "unix:gid:1")
	first := next(t, subscribe(t, c, wl))

	t.Run("same selectors share the update", func(t *testing.T) {
		if u := next(t, subscribe(t, c, sels("unix:gid:1", "unix:uid:1"))); u != first {
			t.Error("second subscriber got a different update")
		}
	})
	t.Run("other selectors get their own", func(t *testing.T) {
		u := next(t, subscribe(t, c, sels("unix:uid:2")))
		if u == first || len(u.Identities) != 1 || u.Identities[0].EntryID != "b" {
			t.Errorf("got identities %v, want [b] in a new update", ids(u))
		}
	})
	t.Run("unchanged entries keep the update", func(t *testing.T) {
		c.SetEntries([]cache.Entry{a, b})
		if u := next(t, subscribe(t, c, wl)); u != first {
			t.Error("re-setting the same entries changed the update")
		}
	})
	// The new entry comes last and its update is read from the running
	// subscription: a new subscriber would wait for the entry's SVID.
	changes := []struct {
		name   string
		change func()
	}{
		{"new SVID", func() { c.SetSVIDs(map[string]cache.SVID{"a": svidFor(t, a, clk.Now(), clk.Now().Add(time.Hour))}) }},
		{"new bundle", func() { c.SetBundle(nil) }},
		{"new federated bundles", func() { c.SetFederatedBundles(nil) }},
		{"new entry", func() { c.SetEntries([]cache.Entry{a, b, entry("c", "/c", "unix:uid:1")}) }},
	}
	for _, tt := range changes {
		t.Run(tt.name+" builds a new update", func(t *testing.T) {
			sub := subscribe(t, c, wl)
			before := next(t, sub)
			tt.change()
			var after *workloadapi.Update
			if tt.name == "new entry" {
				after = next(t, sub)
			} else {
				after = next(t, subscribe(t, c, wl))
			}
			if after == before {
				t.Error("update reused after a change")
			}
		})
	}
}
