package cache_test

import (
	"context"
	"crypto"
	"slices"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/agent/cache"
)

func TestSubscribeCurrentThenChanges(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	a := entry("a", "/a", "unix:uid:1")
	setWithSVIDs(t, c, clk.Now(), a)

	sub := subscribe(t, c, sels("unix:uid:1", "unix:gid:1"))
	if got := ids(next(t, sub)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("initial identities = %v, want [a]", got)
	}
	noUpdate(t, sub)

	b := entry("b", "/b", "unix:gid:1")
	setWithSVIDs(t, c, clk.Now(), a, b)
	// Entries and SVIDs are set in two steps; the newest update wins.
	if got := ids(next(t, sub)); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("identities after adding b = %v, want [a b]", got)
	}

	bundle := spiffebundle.New(td)
	c.SetBundle(bundle)
	if u := next(t, sub); u.Bundle != bundle {
		t.Fatal("bundle update not delivered")
	}
}

func TestSubscribeMatching(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	setWithSVIDs(t, c, clk.Now(),
		entry("uid", "/uid", "unix:uid:1"),
		entry("uid-gid", "/uid-gid", "unix:uid:1", "unix:gid:2"),
		entry("k8s", "/k8s", "k8s:ns:default"),
		entry("none", "/none"),
	)
	tests := []struct {
		name string
		sels []string
		want []string
	}{
		{name: "single selector", sels: []string{"unix:uid:1"}, want: []string{"uid"}},
		{name: "superset matches both", sels: []string{"unix:uid:1", "unix:gid:2", "unix:gid:3"}, want: []string{"uid", "uid-gid"}},
		{name: "partial entry selectors do not match", sels: []string{"unix:gid:2"}, want: nil},
		{name: "other type", sels: []string{"k8s:ns:default", "unix:uid:9"}, want: []string{"k8s"}},
		{name: "no selectors", sels: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := subscribe(t, c, sels(tt.sels...))
			if got := ids(next(t, sub)); !slices.Equal(got, tt.want) {
				t.Fatalf("identities = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIdentityOrderAndHints(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	old := entry("z-old", "/old", "unix:uid:1")
	old.CreatedAt = time.Unix(10, 0)
	old.Hint = "internal"
	newB := entry("b-new", "/new-b", "unix:uid:1")
	newB.CreatedAt = time.Unix(20, 0)
	newA := entry("a-new", "/new-a", "unix:uid:1")
	newA.CreatedAt = time.Unix(20, 0)
	newA.Hint = "external"
	setWithSVIDs(t, c, clk.Now(), newB, old, newA)

	u := next(t, subscribe(t, c, sels("unix:uid:1")))
	if got, want := ids(u), []string{"z-old", "a-new", "b-new"}; !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v (created at, then ID)", got, want)
	}
	if u.Identities[0].Hint != "internal" || u.Identities[1].Hint != "external" || u.Identities[2].Hint != "" {
		t.Fatalf("hints = %q %q %q", u.Identities[0].Hint, u.Identities[1].Hint, u.Identities[2].Hint)
	}
	if u.Identities[0].SPIFFEID != old.SPIFFEID {
		t.Fatalf("identity fields not filled: %+v", u.Identities[0])
	}
	chain, err := u.Identities[0].Certificates()
	if err != nil || len(chain) != 1 {
		t.Fatalf("identity chain: %d certificates, error %v", len(chain), err)
	}
	key, err := u.Identities[0].PrivateKey()
	if err != nil {
		t.Fatalf("identity key: %v", err)
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(chain[0].PublicKey) {
		t.Fatal("identity key does not match its certificate")
	}
}

// TestEntryWithoutSVIDIsNotServed: an entry is served only with its SVID.
// A subscription whose entry has none waits for it (see svidlru_test.go
// for the wait); a running one gets the entry once minted.
func TestEntryWithoutSVIDIsNotServed(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	a := entry("a", "/a", "unix:uid:1")
	b := entry("b", "/b", "unix:uid:1")
	setWithSVIDs(t, c, clk.Now(), a)
	sub := subscribe(t, c, sels("unix:uid:1"))
	if got := ids(next(t, sub)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("identities = %v, want [a]", got)
	}
	c.SetEntries([]cache.Entry{a, b})
	if got := ids(next(t, sub)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("identities before minting b = %v, want [a]", got)
	}
	c.SetSVIDs(map[string]cache.SVID{"b": svidFor(t, b, clk.Now(), clk.Now().Add(time.Hour))})
	if got := ids(next(t, sub)); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("identities after minting = %v, want [a b]", got)
	}
}

func TestRemovingEntryRemovesIdentity(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	a := entry("a", "/a", "unix:uid:1")
	b := entry("b", "/b", "unix:uid:1")
	setWithSVIDs(t, c, clk.Now(), a, b)
	sub := subscribe(t, c, sels("unix:uid:1"))
	next(t, sub)

	c.SetEntries([]cache.Entry{b})
	if got := ids(next(t, sub)); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("identities after removing a = %v, want [b]", got)
	}
	// Re-adding a does not resurrect its old SVID.
	c.SetEntries([]cache.Entry{a, b})
	if got := ids(next(t, sub)); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("identities after re-adding a = %v, want [b] until minted", got)
	}
}

func TestSelectorChangeMovesIdentity(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	a := entry("a", "/a", "unix:uid:1")
	setWithSVIDs(t, c, clk.Now(), a)
	sub1 := subscribe(t, c, sels("unix:uid:1"))
	sub2 := subscribe(t, c, sels("unix:uid:2"))
	next(t, sub1)
	next(t, sub2)

	moved := a
	moved.Selectors = sels("unix:uid:2")
	moved.RevisionNumber = 2
	c.SetEntries([]cache.Entry{moved})
	if got := ids(next(t, sub1)); len(got) != 0 {
		t.Fatalf("old workload identities = %v, want none", got)
	}
	if got := ids(next(t, sub2)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("new workload identities = %v, want [a]", got)
	}
}

func TestUnrelatedChangeDoesNotNotify(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	a := entry("a", "/a", "unix:uid:1")
	setWithSVIDs(t, c, clk.Now(), a)
	sub := subscribe(t, c, sels("unix:uid:1"))
	next(t, sub)
	b := entry("b", "/b", "unix:uid:2")
	c.SetEntries([]cache.Entry{a, b})
	c.SetSVIDs(map[string]cache.SVID{"b": svidFor(t, b, clk.Now(), clk.Now().Add(time.Hour))})
	noUpdate(t, sub)
}

func TestBurstCollapses(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	sub := subscribe(t, c, sels("unix:uid:1"))
	var all []cache.Entry
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5"} {
		all = append(all, entry(id, "/"+id, "unix:uid:1"))
		setWithSVIDs(t, c, clk.Now(), all...)
	}
	if got := ids(next(t, sub)); len(got) != 5 {
		t.Fatalf("after burst got identities %v, want the newest state with 5", got)
	}
	noUpdate(t, sub)
}

func TestFinish(t *testing.T) {
	tests := []struct {
		name string
		end  func(sub interface{ Finish() }, cancel context.CancelFunc)
	}{
		{name: "finish twice", end: func(sub interface{ Finish() }, _ context.CancelFunc) { sub.Finish(); sub.Finish() }},
		{name: "cancel context", end: func(_ interface{ Finish() }, cancel context.CancelFunc) { cancel() }},
		{name: "cancel then finish", end: func(sub interface{ Finish() }, cancel context.CancelFunc) { cancel(); sub.Finish() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cache.New(cache.Config{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sub, err := c.Subscribe(ctx, sels("unix:uid:1"))
			if err != nil {
				t.Fatal(err)
			}
			<-sub.Updates()
			tt.end(sub, cancel)
			select {
			case _, ok := <-sub.Updates():
				if ok {
					t.Fatal("got an update after the end, want closed channel")
				}
			case <-time.After(2 * time.Second):
				t.Fatal("channel not closed")
			}
			// Changes after the end must not panic on the closed channel.
			c.SetEntries([]cache.Entry{entry("a", "/a", "unix:uid:1")})
			sub.Finish()
		})
	}
}

func TestSubscribeCanceledContext(t *testing.T) {
	c := cache.New(cache.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Subscribe(ctx, sels("unix:uid:1")); err == nil {
		t.Fatal("Subscribe with canceled context succeeded")
	}
}

func TestStaleEntries(t *testing.T) {
	clk := newFakeClock()
	now := clk.Now()
	c := cache.New(cache.Config{Clock: clk})
	fresh := entry("fresh", "/fresh", "unix:uid:1")
	half := entry("half", "/half", "unix:uid:1")
	updated := entry("updated", "/updated", "unix:uid:1")
	missing := entry("missing", "/missing", "unix:uid:1")
	c.SetEntries([]cache.Entry{fresh, half, updated, missing})
	c.SetSVIDs(map[string]cache.SVID{
		"fresh":   svidFor(t, fresh, now.Add(-10*time.Minute), now.Add(time.Hour)),
		"half":    svidFor(t, half, now.Add(-30*time.Minute), now.Add(30*time.Minute)),
		"updated": svidFor(t, updated, now, now.Add(time.Hour)),
	})
	updated.RevisionNumber = 2
	c.SetEntries([]cache.Entry{fresh, half, updated, missing})

	// Held SVIDs due for renewal come before entries minted ahead of need
	// (svidlru_test.go tests the order).
	var got []string
	for _, e := range c.StaleEntries(now) {
		got = append(got, e.ID)
	}
	if want := []string{"half", "updated", "missing"}; !slices.Equal(got, want) {
		t.Fatalf("StaleEntries = %v, want %v", got, want)
	}
	got = got[:0]
	for _, e := range c.StaleEntries(now.Add(30 * time.Minute)) {
		got = append(got, e.ID)
	}
	if want := []string{"fresh", "half", "updated", "missing"}; !slices.Equal(got, want) {
		t.Fatalf("StaleEntries 30m later = %v, want %v", got, want)
	}
}

func TestFederatedBundles(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	fed := spiffeid.RequireTrustDomainFromString("partner.org")
	other := spiffeid.RequireTrustDomainFromString("other.org")
	a := entry("a", "/a", "unix:uid:1")
	a.FederatesWith = []spiffeid.TrustDomain{fed}
	b := entry("b", "/b", "unix:uid:2")
	b.FederatesWith = []spiffeid.TrustDomain{other}
	setWithSVIDs(t, c, clk.Now(), a, b)
	if got := c.FederatedTrustDomains(); !slices.Equal(got, []spiffeid.TrustDomain{other, fed}) {
		t.Fatalf("FederatedTrustDomains = %v", got)
	}
	sub := subscribe(t, c, sels("unix:uid:1"))
	if u := next(t, sub); len(u.FederatedBundles) != 0 {
		t.Fatalf("federated bundles before any known = %v", u.FederatedBundles)
	}
	c.SetFederatedBundles(map[spiffeid.TrustDomain]*spiffebundle.Bundle{
		fed: spiffebundle.New(fed), other: spiffebundle.New(other),
	})
	u := next(t, sub)
	if len(u.FederatedBundles) != 1 || u.FederatedBundles[fed] == nil {
		t.Fatalf("federated bundles = %v, want only %s", u.FederatedBundles, fed)
	}
}

func TestIdentityKeepsSVIDIDUntilReminted(t *testing.T) {
	clk := newFakeClock()
	c := cache.New(cache.Config{Clock: clk})
	a := entry("a", "/old", "unix:uid:1")
	setWithSVIDs(t, c, clk.Now(), a)
	sub := subscribe(t, c, sels("unix:uid:1"))
	next(t, sub)

	renamed := a
	renamed.SPIFFEID = spiffeid.RequireFromPath(td, "/new")
	renamed.RevisionNumber = 2
	c.SetEntries([]cache.Entry{renamed})
	if u := next(t, sub); u.Identities[0].SPIFFEID.Path() != "/old" {
		t.Fatalf("identity ID = %v, want the SVID's /old until reminted", u.Identities[0].SPIFFEID)
	}
	if stale := c.StaleEntries(clk.Now()); len(stale) != 1 || stale[0].ID != "a" {
		t.Fatalf("StaleEntries = %v, want the renamed entry", stale)
	}
	c.SetSVIDs(map[string]cache.SVID{"a": svidFor(t, renamed, clk.Now(), clk.Now().Add(time.Hour))})
	if u := next(t, sub); u.Identities[0].SPIFFEID.Path() != "/new" {
		t.Fatalf("identity ID = %v, want /new", u.Identities[0].SPIFFEID)
	}
}

func TestRotationDue(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name                string
		nb, na, minted, now time.Time
		want                bool
	}{
		{name: "fresh", nb: t0, na: t0.Add(time.Hour), now: t0.Add(29 * time.Minute), want: false},
		{name: "at half", nb: t0, na: t0.Add(time.Hour), now: t0.Add(30 * time.Minute), want: true},
		{name: "expired", nb: t0, na: t0.Add(time.Hour), now: t0.Add(2 * time.Hour), want: true},
		// A 6s SVID backdated by 10s is past half of [nb, na] on arrival;
		// timing from its arrival avoids re-minting it on every sync.
		{name: "backdated short SVID just minted", nb: t0.Add(-10 * time.Second), na: t0.Add(6 * time.Second), minted: t0, now: t0.Add(time.Second), want: false},
		{name: "backdated short SVID at half from mint", nb: t0.Add(-10 * time.Second), na: t0.Add(6 * time.Second), minted: t0, now: t0.Add(3 * time.Second), want: true},
		{name: "unknown mint time uses NotBefore", nb: t0.Add(-10 * time.Second), na: t0.Add(6 * time.Second), now: t0, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cache.RotationDue(tt.nb, tt.na, tt.minted, tt.now); got != tt.want {
				t.Fatalf("RotationDue = %v, want %v", got, tt.want)
			}
		})
	}
}
