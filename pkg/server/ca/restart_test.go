package ca_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"

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

	// The retired JWT key's expiry survived the restart too.
	clock.Set(old.NotAfter)
	rotate(t, second)
	if second.Bundle().HasJWTAuthority(oldKID) || second.Bundle().HasX509Authority(old) {
		t.Error("expired authorities not pruned after restart")
	}
}

func TestStoredForeignAuthoritiesKeptUntilExpiry(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	bundles := cfg.Bundles.(*memBundles)

	foreign := selfSignedCA(t, clock.Now(), time.Hour)
	pre := spiffebundle.New(td)
	pre.AddX509Authority(foreign)
	if err := pre.AddJWTAuthority("legacy", newLeafKey(t).Public()); err != nil {
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
	if m.Bundle().HasX509Authority(foreign) {
		t.Error("expired stored X.509 authority not pruned")
	}
	if !m.Bundle().HasJWTAuthority("legacy") {
		t.Error("stored JWT authority dropped before one CA TTL passed")
	}

	// With no expiry in the bundle document, a foreign JWT key is kept for
	// one CA TTL from when it was first seen.
	clock.Set(clock.Now().Add(-time.Hour).Add(ca.DefaultCATTL))
	rotate(t, m)
	if m.Bundle().HasJWTAuthority("legacy") {
		t.Error("stored JWT authority kept beyond one CA TTL")
	}
}

func selfSignedCA(t *testing.T, now time.Time, ttl time.Duration) *x509.Certificate {
	t.Helper()
	key := newLeafKey(t)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Upstream"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(ttl),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
		URIs:                  []*url.URL{td.ID().URL()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
