package ca_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

// lifetimeAt returns the instant num/den of the way through c's validity.
func lifetimeAt(c *x509.Certificate, num, den int64) time.Time {
	life := c.NotAfter.Sub(c.NotBefore)
	return c.NotBefore.Add(time.Duration(int64(life) / den * num))
}

func rotate(t *testing.T, m *ca.Manager) {
	t.Helper()
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
}

func seq(t *testing.T, b *spiffebundle.Bundle) uint64 {
	t.Helper()
	n, ok := b.SequenceNumber()
	if !ok {
		t.Fatal("bundle has no sequence number")
	}
	return n
}

func TestRotationX509(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	bundles := cfg.Bundles.(*memBundles)
	m := newManager(t, cfg)
	updates, cancel := m.SubscribeBundle()
	defer cancel()
	id := mustID(t, "spiffe://example.org/w")

	authorities := m.Bundle().X509Authorities()
	if len(authorities) != 1 {
		t.Fatalf("new manager publishes %d X.509 authorities, want 1", len(authorities))
	}
	old := authorities[0]
	startSeq := seq(t, m.Bundle())
	if stored := bundles.stored(t); !stored.Equal(m.Bundle()) {
		t.Fatal("stored bundle differs from Bundle()")
	}

	t.Run("before half lifetime nothing changes", func(t *testing.T) {
		clock.Set(lifetimeAt(old, 1, 2).Add(-time.Second))
		rotate(t, m)
		if n := len(m.Bundle().X509Authorities()); n != 1 {
			t.Errorf("bundle has %d X.509 authorities, want 1", n)
		}
		noSignal(t, updates, "bundle update")
	})

	var next *x509.Certificate
	t.Run("at half lifetime the next CA is published but not used", func(t *testing.T) {
		clock.Set(lifetimeAt(old, 1, 2))
		rotate(t, m)
		waitSignal(t, updates, "bundle update after preparing")
		b := m.Bundle()
		if n := len(b.X509Authorities()); n != 2 {
			t.Fatalf("bundle has %d X.509 authorities, want 2", n)
		}
		for _, c := range b.X509Authorities() {
			if !c.Equal(old) {
				next = c
			}
		}
		if !bundles.stored(t).HasX509Authority(next) {
			t.Error("next CA is not in the stored bundle")
		}
		if got := seq(t, b); got <= startSeq {
			t.Errorf("sequence number %d did not grow from %d", got, startSeq)
		}
		leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id})
		if err := leaf.CheckSignatureFrom(old); err != nil {
			t.Errorf("SVID is not signed by the active CA: %v", err)
		}
	})

	t.Run("at 5/6 lifetime the next CA signs and the old stays published", func(t *testing.T) {
		clock.Set(lifetimeAt(old, 5, 6).Add(-time.Second))
		rotate(t, m)
		before := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id})
		if err := before.CheckSignatureFrom(old); err != nil {
			t.Errorf("next CA activated before 5/6 of the lifetime: %v", err)
		}
		clock.Set(lifetimeAt(old, 5, 6))
		rotate(t, m)
		leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id})
		if err := leaf.CheckSignatureFrom(next); err != nil {
			t.Errorf("SVID is not signed by the new CA: %v", err)
		}
		for name, svid := range map[string]*x509.Certificate{"new": leaf, "pre-activation": before} {
			if _, _, err := x509svid.Verify([]*x509.Certificate{svid}, m.Bundle(), x509svid.WithTime(clock.Now())); err != nil {
				t.Errorf("%s SVID does not verify against the bundle: %v", name, err)
			}
		}
		if !m.Bundle().HasX509Authority(old) {
			t.Error("old CA left the bundle before expiring")
		}
	})

	t.Run("24 h after the old CA expires it is pruned", func(t *testing.T) {
		prevSeq := seq(t, m.Bundle())
		clock.Set(old.NotAfter)
		rotate(t, m)
		if !m.Bundle().HasX509Authority(old) {
			t.Error("CA pruned at its expiry, want 24 h later")
		}
		clock.Set(old.NotAfter.Add(24 * time.Hour))
		rotate(t, m)
		waitSignal(t, updates, "bundle update after pruning")
		b := m.Bundle()
		if b.HasX509Authority(old) {
			t.Error("expired CA is still in the bundle")
		}
		if bundles.stored(t).HasX509Authority(old) {
			t.Error("expired CA is still in the stored bundle")
		}
		if !b.HasX509Authority(next) {
			t.Error("active CA is missing from the bundle")
		}
		if got := seq(t, b); got <= prevSeq {
			t.Errorf("sequence number %d did not grow from %d", got, prevSeq)
		}
	})
}

func TestRotationJWT(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	cfg := testConfig(clock)
	bundles := cfg.Bundles.(*memBundles)
	m := newManager(t, cfg)
	updates, cancel := m.SubscribeBundle()
	defer cancel()

	if n := len(m.Bundle().JWTAuthorities()); n != 1 {
		t.Fatalf("new manager publishes %d JWT authorities, want 1", n)
	}
	oldKID := jwtHeader(t, signJWT(t, m)).KeyID
	ttl := ca.DefaultCATTL

	t.Run("at half lifetime the next key is published but not used", func(t *testing.T) {
		clock.Set(start.Add(ttl / 2))
		rotate(t, m)
		waitSignal(t, updates, "bundle update after preparing")
		if n := len(m.Bundle().JWTAuthorities()); n != 2 {
			t.Fatalf("bundle has %d JWT authorities, want 2", n)
		}
		if n := len(bundles.stored(t).JWTAuthorities()); n != 2 {
			t.Errorf("stored bundle has %d JWT authorities, want 2", n)
		}
		if kid := jwtHeader(t, signJWT(t, m)).KeyID; kid != oldKID {
			t.Errorf("signed with kid %q, want the active %q", kid, oldKID)
		}
	})

	var newKID string
	t.Run("at 5/6 lifetime the next key signs and the old stays published", func(t *testing.T) {
		clock.Set(start.Add(ttl / 6 * 5).Add(-time.Second))
		rotate(t, m)
		if kid := jwtHeader(t, signJWT(t, m)).KeyID; kid != oldKID {
			t.Errorf("next JWT key activated before 5/6 of the lifetime")
		}
		clock.Set(start.Add(ttl / 6 * 5))
		rotate(t, m)
		token := signJWT(t, m)
		newKID = jwtHeader(t, token).KeyID
		if newKID == oldKID {
			t.Fatal("still signing with the old key")
		}
		verifyJWTSignature(t, m.Bundle(), token)
		if !m.Bundle().HasJWTAuthority(oldKID) {
			t.Error("old JWT key left the bundle before expiring")
		}
	})

	t.Run("24 h after the old key expires it is pruned", func(t *testing.T) {
		clock.Set(start.Add(ttl))
		rotate(t, m)
		if !m.Bundle().HasJWTAuthority(oldKID) {
			t.Error("JWT key pruned at its expiry, want 24 h later")
		}
		clock.Set(start.Add(ttl + 24*time.Hour))
		rotate(t, m)
		waitSignal(t, updates, "bundle update after pruning")
		if m.Bundle().HasJWTAuthority(oldKID) {
			t.Error("expired JWT key is still in the bundle")
		}
		if bundles.stored(t).HasJWTAuthority(oldKID) {
			t.Error("expired JWT key is still in the stored bundle")
		}
		if !m.Bundle().HasJWTAuthority(newKID) {
			t.Error("active JWT key is missing from the bundle")
		}
	})
}

// verifyJWTSignature checks the token's signature with the bundle key named
// by its kid; go-spiffe's ParseAndValidate cannot be used once the fake
// clock runs ahead of real time (it rejects iat in the future).
func verifyJWTSignature(t *testing.T, b *spiffebundle.Bundle, token string) {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	key, ok := b.FindJWTAuthority(tok.Headers[0].KeyID)
	if !ok {
		t.Fatalf("kid %q is not in the bundle", tok.Headers[0].KeyID)
	}
	var claims jwt.Claims
	if err := tok.Claims(key, &claims); err != nil {
		t.Fatalf("JWT signature does not verify with the bundle key: %v", err)
	}
}

func TestNoSigningWithUnpublishedCA(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	bundles := cfg.Bundles.(*memBundles)
	m := newManager(t, cfg)
	old := m.Bundle().X509Authorities()[0]
	oldKID := jwtHeader(t, signJWT(t, m)).KeyID
	id := mustID(t, "spiffe://example.org/w")

	bundles.setFailure(errStoreDown)
	for _, at := range []time.Time{lifetimeAt(old, 1, 2), lifetimeAt(old, 5, 6)} {
		clock.Set(at)
		if err := m.Rotate(context.Background()); err == nil {
			t.Fatal("Rotate succeeded although the bundle could not be stored")
		}
	}
	if n := len(m.Bundle().X509Authorities()); n != 1 {
		t.Errorf("bundle has %d X.509 authorities after failed publishing, want 1", n)
	}
	if err := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id}).CheckSignatureFrom(old); err != nil {
		t.Errorf("SVID not signed by the published CA: %v", err)
	}
	if kid := jwtHeader(t, signJWT(t, m)).KeyID; kid != oldKID {
		t.Errorf("JWT signed with unpublished key %q", kid)
	}

	bundles.setFailure(nil)
	rotate(t, m)
	leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id})
	if err := leaf.CheckSignatureFrom(old); err == nil {
		t.Error("still signing with the old CA at 5/6 of its lifetime")
	}
	if _, _, err := x509svid.Verify([]*x509.Certificate{leaf}, bundles.stored(t), x509svid.WithTime(clock.Now())); err != nil {
		t.Errorf("SVID does not verify against the stored bundle: %v", err)
	}
	verifyJWTSignature(t, bundles.stored(t), signJWT(t, m))
}

func TestRotationReplacesExpiredKeys(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	m := newManager(t, cfg)
	old := m.Bundle().X509Authorities()[0]
	oldKID := jwtHeader(t, signJWT(t, m)).KeyID

	// The server was down for longer than a whole CA lifetime and the 24 h
	// that expired authorities stay.
	clock.Set(old.NotAfter.Add(25 * time.Hour))
	rotate(t, m)
	b := m.Bundle()
	if b.HasX509Authority(old) || b.HasJWTAuthority(oldKID) {
		t.Error("expired authorities are still published")
	}
	leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: mustID(t, "spiffe://example.org/w")})
	if _, _, err := x509svid.Verify([]*x509.Certificate{leaf}, b, x509svid.WithTime(clock.Now())); err != nil {
		t.Errorf("SVID from the replacement CA does not verify: %v", err)
	}
}

func TestRunRotates(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	cfg.RotationCheckInterval = time.Millisecond
	m := newManager(t, cfg)
	updates, cancel := m.SubscribeBundle()
	defer cancel()

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	clock.Set(lifetimeAt(m.Bundle().X509Authorities()[0], 1, 2))
	waitSignal(t, updates, "bundle update from Run")
	if n := len(m.Bundle().X509Authorities()); n != 2 {
		t.Errorf("bundle has %d X.509 authorities, want 2", n)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestSubscribeBundleCancel(t *testing.T) {
	clock := newFakeClock()
	m := newManager(t, testConfig(clock))
	updates, cancel := m.SubscribeBundle()
	cancel()
	clock.Set(lifetimeAt(m.Bundle().X509Authorities()[0], 1, 2))
	rotate(t, m)
	noSignal(t, updates, "update after cancel")
}
