package ca_test

import (
	"context"
	"crypto/x509"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/ca"
)

// TestSigningDuringRotation signs from several goroutines while the CA is
// prepared and activated: every SVID must chain to the bundle published at
// the time it was handed out.
func TestSigningDuringRotation(t *testing.T) {
	clock := newFakeClock()
	m := newManager(t, testConfig(clock))
	old := m.Bundle().X509Authorities()[0]
	id := mustID(t, "spiffe://example.org/w")
	pub := testca.NewKey(t).Public()

	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		signed  atomic.Int64
		signers = 4
	)
	for range signers {
		wg.Go(func() {
			for !stop.Load() {
				chain, err := m.SignX509SVID(context.Background(), ca.X509SVIDParams{SPIFFEID: id, PublicKey: pub})
				if err != nil {
					t.Error(err)
					return
				}
				at := chain[0].NotBefore.Add(10 * time.Second) // the signing time
				if _, _, err := x509svid.Verify(chain, m.Bundle(), x509svid.WithTime(at)); err != nil {
					t.Errorf("SVID signed at %s does not chain to the bundle: %v", at, err)
					return
				}
				signed.Add(1)
			}
		})
	}
	for i := int64(1); i <= 12; i++ {
		clock.Set(lifetimeAt(old, i, 12))
		rotate(t, m)
	}
	stop.Store(true)
	wg.Wait()
	if signed.Load() == 0 {
		t.Fatal("no SVIDs signed")
	}
	leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id})
	if err := leaf.CheckSignatureFrom(old); err == nil {
		t.Error("CA did not rotate during the test")
	}
	if _, _, err := x509svid.Verify([]*x509.Certificate{leaf}, m.Bundle(), x509svid.WithTime(clock.Now())); err != nil {
		t.Error(err)
	}
}
