package ca_test

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

func TestRestartKeepsRetiredAuthorities(t *testing.T) {
	clock := newFakeClock()
	path := filepath.Join(t.TempDir(), "keys.json")
	cfg := testConfig(clock)
	cfg.Keys = ca.NewDiskKeyStore(path)
	first := newManager(t, cfg)
	old := first.Bundle().X509Authorities()[0]
	oldKID := jwtHeader(t, signJWT(t, first)).KeyID

	clock.Set(lifetimeAt(old, 1, 2))
	rotate(t, first)
	// JWT keys are not backdated, so their 5/6 point comes a little later.
	clock.Set(lifetimeAt(old, 5, 6).Add(10 * time.Second))
	rotate(t, first)
	if jwtHeader(t, signJWT(t, first)).KeyID == oldKID {
		t.Fatal("JWT key did not rotate")
	}
	want := first.Bundle()

	cfg.Keys = ca.NewDiskKeyStore(path)
	second := newManager(t, cfg)
	got := second.Bundle()
	if !got.HasX509Authority(old) {
		t.Error("retired X.509 CA lost across restart")
	}
	if !got.HasJWTAuthority(oldKID) {
		t.Error("retired JWT key lost across restart")
	}
	if !got.Equal(want) {
		t.Error("bundle changed across restart")
	}

	// The retired JWT key's expiry survived the restart too: both go 24 h
	// after it (pruneAfterExpiry, as SPIRE).
	clock.Set(old.NotAfter.Add(24 * time.Hour))
	rotate(t, second)
	if second.Bundle().HasJWTAuthority(oldKID) || second.Bundle().HasX509Authority(old) {
		t.Error("expired authorities not pruned after restart")
	}
}

func TestStoredForeignAuthoritiesKeptUntilExpiry(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	bundles := cfg.Bundles.(*memBundles)

	// A foreign root that expires in exactly an hour: testca roots live a
	// day from a minute before their clock's now, so its clock reads 23
	// hours less a minute earlier.
	foreign := foreignRoot(t, clock.Now().Add(-23*time.Hour+time.Minute))
	if got := foreign.NotAfter.Sub(clock.Now()); got != time.Hour {
		t.Fatalf("foreign root expires in %v, want 1h", got)
	}
	pre := spiffebundle.New(td)
	pre.AddX509Authority(foreign)
	if err := pre.AddJWTAuthority("legacy", testca.NewKey(t).Public()); err != nil {
		t.Fatal(err)
	}
	pre.SetSequenceNumber(41)
	data, err := pre.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := bundles.SetBundle(context.Background(), &datastore.Bundle{TrustDomain: td.Name(), Data: data}); err != nil {
		t.Fatal(err)
	}

	m := newManager(t, cfg)
	b := m.Bundle()
	if !b.HasX509Authority(foreign) || !b.HasJWTAuthority("legacy") {
		t.Fatal("authorities of the stored bundle were dropped")
	}
	if got := seq(t, b); got != 42 {
		t.Errorf("sequence number = %d, want 42 (stored 41 + 1)", got)
	}

	clock.Set(foreign.NotAfter)
	rotate(t, m)
	if !m.Bundle().HasX509Authority(foreign) {
		t.Error("stored X.509 authority pruned at its expiry, want 24 h later")
	}
	clock.Set(foreign.NotAfter.Add(24 * time.Hour))
	rotate(t, m)
	if m.Bundle().HasX509Authority(foreign) {
		t.Error("stored X.509 authority not pruned 24 h after its expiry")
	}
	if !m.Bundle().HasJWTAuthority("legacy") {
		t.Error("stored JWT authority dropped before one CA TTL passed")
	}

	// With no expiry in the bundle document, a foreign JWT key is taken to
	// expire one CA TTL from when it was first seen, and goes 24 h later.
	clock.Set(clock.Now().Add(-time.Hour).Add(ca.DefaultCATTL))
	rotate(t, m)
	if m.Bundle().HasJWTAuthority("legacy") {
		t.Error("stored JWT authority kept beyond one CA TTL")
	}
}

// foreignRoot returns the root of another CA of the trust domain whose
// clock reads at: valid from a minute before at for a day.
func foreignRoot(t *testing.T, at time.Time) *x509.Certificate {
	t.Helper()
	c, err := testca.New(td, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	return c.Root()
}
