package ca_test

import (
	"context"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/internal/pgtest"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
)

// pg is this package's PostgreSQL server, started by TestMain, for the
// CAs of several servers sharing one store.
var pg pgtest.Server

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// TestCAsShareOneStoredBundle: two CAs (two servers' Managers, each with its
// own keys and its own pool) on one PostgreSQL database each append their
// authorities to the stored bundle; each trusts what the other signs once
// it has taken up the stored bundle; rotations of one keep the other's
// authorities; expired authorities of both go 24 h after expiry.
func TestCAsShareOneStoredBundle(t *testing.T) {
	cs := pg.NewDatabase(t)
	clock := newFakeClock()
	store := openPostgres(t, cs)
	newCA := func() *ca.Manager {
		cfg := testConfig(clock)
		cfg.Bundles = openPostgres(t, cs)
		return newManager(t, cfg)
	}
	a, b := newCA(), newCA()
	// A takes up B's authorities, as a server does when the store announces
	// the bundle change.
	rotate(t, a)
	stored := func() *spiffebundle.Bundle {
		t.Helper()
		rec, err := store.GetBundle(context.Background(), td.Name())
		if err != nil {
			t.Fatalf("GetBundle: %v", err)
		}
		sb, err := spiffebundle.Parse(td, rec.Data)
		if err != nil {
			t.Fatalf("parse stored bundle: %v", err)
		}
		return sb
	}
	aCA0, bCA0 := currentCA(t, a), currentCA(t, b)
	aKID0, bKID0 := jwtHeader(t, signJWT(t, a)).KeyID, jwtHeader(t, signJWT(t, b)).KeyID
	if aCA0.Equal(bCA0) || aKID0 == bKID0 {
		t.Fatal("the two CAs share keys; want one set each")
	}
	mutualTrust := func(t *testing.T) {
		t.Helper()
		for _, signer := range []struct {
			name string
			m    *ca.Manager
		}{{"A", a}, {"B", b}} {
			leaf := signX509(t, signer.m, ca.X509SVIDParams{SPIFFEID: mustID(t, "spiffe://example.org/w")})
			token := signJWT(t, signer.m)
			for _, v := range []struct {
				name   string
				bundle *spiffebundle.Bundle
			}{{"the stored bundle", stored()}, {"A's bundle", a.Bundle()}, {"B's bundle", b.Bundle()}} {
				if _, _, err := x509svid.Verify([]*x509.Certificate{leaf}, v.bundle, x509svid.WithTime(clock.Now())); err != nil {
					t.Errorf("X.509-SVID of %s does not verify against %s: %v", signer.name, v.name, err)
				}
				if _, ok := v.bundle.FindJWTAuthority(jwtHeader(t, token).KeyID); !ok {
					t.Errorf("JWT key of %s missing from %s", signer.name, v.name)
					continue
				}
				verifyJWTSignature(t, v.bundle, token)
			}
		}
	}

	t.Run("both sets of authorities are published and trusted", mutualTrust)

	t.Run("rotations of one keep the other's authorities", func(t *testing.T) {
		for _, num := range []int64{3, 5} { // prepare, then activate
			clock.Set(lifetimeAt(aCA0, num, 6))
			rotate(t, a)
		}
		if currentCA(t, a).Equal(aCA0) {
			t.Fatal("A did not rotate its X.509 CA")
		}
		sb := stored()
		if !sb.HasX509Authority(bCA0) || !sb.HasJWTAuthority(bKID0) {
			t.Error("A's rotation dropped B's authorities from the stored bundle")
		}
		if !sb.HasX509Authority(aCA0) || !sb.HasJWTAuthority(aKID0) {
			t.Error("A's rotation dropped its own unexpired authorities")
		}
		rotate(t, b)
		rotate(t, a)
		mutualTrust(t)
	})

	t.Run("expired authorities go 24 h after expiry", func(t *testing.T) {
		clock.Set(aCA0.NotAfter.Add(time.Hour))
		rotate(t, a)
		rotate(t, b)
		if sb := stored(); !sb.HasX509Authority(aCA0) || !sb.HasX509Authority(bCA0) {
			t.Error("authorities pruned an hour after expiry, want 24 h")
		}
		clock.Set(aCA0.NotAfter.Add(24*time.Hour + time.Minute))
		rotate(t, a)
		rotate(t, b)
		rotate(t, a)
		sb := stored()
		for name, gone := range map[string]bool{
			"A's first X.509 CA": sb.HasX509Authority(aCA0),
			"B's first X.509 CA": sb.HasX509Authority(bCA0),
			"A's first JWT key":  sb.HasJWTAuthority(aKID0),
			"B's first JWT key":  sb.HasJWTAuthority(bKID0),
		} {
			if gone {
				t.Errorf("%s still in the stored bundle 24 h after expiry", name)
			}
		}
		for _, c := range sb.X509Authorities() {
			if !clock.Now().Before(c.NotAfter.Add(24 * time.Hour)) {
				t.Errorf("stored X.509 authority %s expired at %v, more than 24 h ago", c.SerialNumber, c.NotAfter)
			}
		}
		mutualTrust(t)
	})
}

// openPostgres opens a store on the database cs, closed when the test ends.
func openPostgres(t *testing.T, cs string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{ConnString: cs})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// currentCA returns the X.509 authority of m's bundle that signs m's SVIDs
// now.
func currentCA(t *testing.T, m *ca.Manager) *x509.Certificate {
	t.Helper()
	leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: mustID(t, "spiffe://example.org/w")})
	for _, c := range m.Bundle().X509Authorities() {
		if leaf.CheckSignatureFrom(c) == nil {
			return c
		}
	}
	t.Fatal("no authority of the bundle signed the SVID")
	return nil
}

// TestCAsStartingTogetherKeepEveryAuthority: servers started at the same
// moment on one empty database each publish their first authorities at
// once; the stored bundle ends with every one of them (a read-then-write
// would let the last writer drop the others').
func TestCAsStartingTogetherKeepEveryAuthority(t *testing.T) {
	cs := pg.NewDatabase(t)
	store := openPostgres(t, cs)
	clock := newFakeClock()
	const servers = 4
	cfgs := make([]ca.Config, servers)
	for i := range cfgs {
		cfgs[i] = testConfig(clock)
		cfgs[i].Bundles = openPostgres(t, cs)
	}
	managers := make([]*ca.Manager, servers)
	errs := make(chan error, servers)
	start := make(chan struct{})
	for i := range managers {
		go func() {
			<-start
			m, err := ca.New(context.Background(), cfgs[i])
			managers[i] = m
			errs <- err
		}()
	}
	close(start)
	for range servers {
		if err := <-errs; err != nil {
			t.Fatalf("New: %v", err)
		}
	}
	rec, err := store.GetBundle(context.Background(), td.Name())
	if err != nil {
		t.Fatalf("GetBundle: %v", err)
	}
	sb, err := spiffebundle.Parse(td, rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range managers {
		if !sb.HasX509Authority(currentCA(t, m)) {
			t.Errorf("server %d's X.509 CA is missing from the stored bundle", i)
		}
		if !sb.HasJWTAuthority(jwtHeader(t, signJWT(t, m)).KeyID) {
			t.Errorf("server %d's JWT key is missing from the stored bundle", i)
		}
	}
}

// TestPrunedJWTKeyLeavesEveryServer: a server that first saw another
// server's JWT key hours after it was made assumes it expires later than
// it does; when the owner prunes the key, it still leaves the stored bundle
// and stays out, instead of being published back and forth between the
// servers.
func TestPrunedJWTKeyLeavesEveryServer(t *testing.T) {
	cs := pg.NewDatabase(t)
	store := openPostgres(t, cs)
	clock := newFakeClock()
	start := clock.Now()
	newCA := func() *ca.Manager {
		cfg := testConfig(clock)
		cfg.Bundles = openPostgres(t, cs)
		return newManager(t, cfg)
	}
	a := newCA()
	kid := jwtHeader(t, signJWT(t, a)).KeyID
	clock.Set(start.Add(6 * time.Hour))
	b := newCA() // first sees A's key now
	if !b.Bundle().HasJWTAuthority(kid) {
		t.Fatal("B did not take up A's JWT key")
	}
	storedHas := func() bool {
		t.Helper()
		rec, err := store.GetBundle(context.Background(), td.Name())
		if err != nil {
			t.Fatalf("GetBundle: %v", err)
		}
		sb, err := spiffebundle.Parse(td, rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		return sb.HasJWTAuthority(kid)
	}

	// A's key expires one CA TTL after start and goes 24 h later; B would
	// have kept it six hours more.
	clock.Set(start.Add(ca.DefaultCATTL + 24*time.Hour + time.Minute))
	for i, m := range []*ca.Manager{a, b, a, b} {
		rotate(t, m)
		if storedHas() {
			t.Fatalf("A's pruned JWT key is in the stored bundle after rotation %d", i+1)
		}
	}
	if a.Bundle().HasJWTAuthority(kid) || b.Bundle().HasJWTAuthority(kid) {
		t.Error("a server still publishes A's pruned JWT key")
	}
}
