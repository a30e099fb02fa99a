package ca_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// TestJWTAuthoritiesNewestFirst: JWTAuthorities lists exactly the bundle's
// JWT keys, the next key first, then the active one, then retired ones by
// expiry; keys adopted from the stored bundle (another server's, with an
// expiry later than the active key's) come after the active key, so a
// consumer keeping a prefix never drops the key that signs.
func TestJWTAuthoritiesNewestFirst(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	cfg := testConfig(clock)

	// A stored bundle holding three keys this CA never made.
	stored := spiffebundle.New(td)
	for i := range 3 {
		if err := stored.AddJWTAuthority(fmt.Sprintf("foreign-%d", i), testca.NewKey(t).Public()); err != nil {
			t.Fatal(err)
		}
	}
	data, err := stored.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Bundles.(*memBundles).SetBundle(context.Background(), &datastore.Bundle{TrustDomain: td.Name(), Data: data}); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, cfg)
	active := jwtHeader(t, signJWT(t, m)).KeyID

	kids := func() []string {
		var out []string
		for _, k := range m.JWTAuthorities() {
			out = append(out, k.KeyID)
		}
		return out
	}
	checkSameSet := func(t *testing.T, got []string) {
		t.Helper()
		want := make([]string, 0)
		for kid := range m.Bundle().JWTAuthorities() {
			want = append(want, kid)
		}
		if a, b := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)); !slices.Equal(a, b) {
			t.Fatalf("JWTAuthorities = %v, bundle holds %v", a, b)
		}
	}

	t.Run("active key first, adopted keys after it", func(t *testing.T) {
		got := kids()
		checkSameSet(t, got)
		want := []string{active, "foreign-0", "foreign-1", "foreign-2"}
		if !slices.Equal(got, want) {
			t.Fatalf("JWTAuthorities = %v, want %v", got, want)
		}
	})

	t.Run("prepared key first, then the active one", func(t *testing.T) {
		clock.Set(start.Add(ca.DefaultCATTL / 2))
		rotate(t, m)
		got := kids()
		checkSameSet(t, got)
		if len(got) != 5 || got[1] != active || slices.Contains(got[2:], active) {
			t.Fatalf("JWTAuthorities = %v, want [next %s foreign-0 foreign-1 foreign-2]", got, active)
		}
	})

	t.Run("after activation the retired key follows the new one", func(t *testing.T) {
		next := kids()[0]
		clock.Set(start.Add(ca.DefaultCATTL / 6 * 5))
		rotate(t, m)
		if kid := jwtHeader(t, signJWT(t, m)).KeyID; kid != next {
			t.Fatalf("signing with %q, want the prepared %q", kid, next)
		}
		got := kids()
		checkSameSet(t, got)
		// The old active key and the adopted ones all expire one CA TTL
		// after the manager started: they follow in key ID order.
		if got[0] != next {
			t.Fatalf("JWTAuthorities = %v, want the active %q first", got, next)
		}
		rest := []string{"foreign-0", "foreign-1", "foreign-2", active}
		slices.Sort(rest)
		if !slices.Equal(got[1:], rest) {
			t.Fatalf("JWTAuthorities = %v, want %q then %v", got, next, rest)
		}
	})
}
