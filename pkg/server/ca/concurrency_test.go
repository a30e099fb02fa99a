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

// rotationSteps is how many times TestSigningDuringRotation advances the
// clock across the first CA's lifetime and rotates.
const rotationSteps = 12

// TestSigningDuringRotation signs from several goroutines while the CA is
// prepared and activated: every SVID must chain to the bundle published at
// the time it was handed out. After each rotation step it waits until a
// signature started after that step has been checked, so that signing
// overlaps every step however the goroutines are scheduled (on a loaded
// machine the twelve steps could otherwise finish before any signer ran).
func TestSigningDuringRotation(t *testing.T) {
	clock := newFakeClock()
	m := newManager(t, testConfig(clock))
	old := m.Bundle().X509Authorities()[0]
	id := mustID(t, "spiffe://example.org/w")
	pub := testca.NewKey(t).Public()

	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		step    atomic.Int64
		signers = 4
		// checked carries the step at which each verified signature
		// started; sends never block, the main goroutine drains it.
		checked = make(chan int64, 64)
	)
	for range signers {
		wg.Go(func() {
			for !stop.Load() {
				started := step.Load()
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
				select {
				case checked <- started:
				default:
				}
			}
		})
	}
	// Stops the signers also when a step fails the test.
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
	waitSigned := func(i int64) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case s := <-checked:
				if s >= i {
					return
				}
			case <-deadline:
				t.Fatalf("no SVID signed and checked after rotation step %d", i)
			}
		}
	}
	waitSigned(0)
	for i := int64(1); i <= rotationSteps; i++ {
		clock.Set(lifetimeAt(old, i, rotationSteps))
		rotate(t, m)
		step.Store(i)
		waitSigned(i)
	}
	stop.Store(true)
	wg.Wait()
	leaf := signX509(t, m, ca.X509SVIDParams{SPIFFEID: id})
	if err := leaf.CheckSignatureFrom(old); err == nil {
		t.Error("CA did not rotate during the test")
	}
	if _, _, err := x509svid.Verify([]*x509.Certificate{leaf}, m.Bundle(), x509svid.WithTime(clock.Now())); err != nil {
		t.Error(err)
	}
}
