package ca_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

func newFakeClock() *testclock.Clock {
	// Start at the real time so go-spiffe verifiers that use time.Now
	// accept what is signed before the clock is advanced.
	return testclock.New(time.Now().Truncate(time.Second))
}

// memBundles is an in-memory BundleStore that can be told to fail.
type memBundles struct {
	mu      sync.Mutex
	bundles map[string][]byte
	sets    int
	failSet error
}

func newMemBundles() *memBundles {
	return &memBundles{bundles: make(map[string][]byte)}
}

func (s *memBundles) SetBundle(_ context.Context, b *datastore.Bundle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSet != nil {
		return s.failSet
	}
	s.bundles[b.TrustDomain] = append([]byte(nil), b.Data...)
	s.sets++
	return nil
}

// UpdateBundle is the store's read-modify-write under the fake's lock; it
// counts a set only when the data changes, as a real store bumps its
// revision only then.
func (s *memBundles) UpdateBundle(_ context.Context, trustDomain string, fn func(*datastore.Bundle) (*datastore.Bundle, error)) (*datastore.Bundle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSet != nil {
		return nil, s.failSet
	}
	var cur *datastore.Bundle
	if data, ok := s.bundles[trustDomain]; ok {
		cur = &datastore.Bundle{TrustDomain: trustDomain, Data: append([]byte(nil), data...)}
	}
	next, err := datastore.ApplyBundleUpdate(trustDomain, cur, fn)
	if err != nil {
		return nil, err
	}
	if cur == nil || !bytes.Equal(cur.Data, next.Data) {
		s.bundles[trustDomain] = next.Data
		s.sets++
	}
	return next, nil
}

func (s *memBundles) GetBundle(_ context.Context, trustDomain string) (*datastore.Bundle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.bundles[trustDomain]
	if !ok {
		return nil, fmt.Errorf("bundle %q: %w", trustDomain, datastore.ErrNotFound)
	}
	return &datastore.Bundle{TrustDomain: trustDomain, Data: append([]byte(nil), data...)}, nil
}

func (s *memBundles) setFailure(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failSet = err
}

func (s *memBundles) setCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sets
}

// stored parses the stored bundle of td.
func (s *memBundles) stored(t testing.TB) *spiffebundle.Bundle {
	t.Helper()
	rec, err := s.GetBundle(context.Background(), td.Name())
	if err != nil {
		t.Fatalf("GetBundle: %v", err)
	}
	b, err := spiffebundle.Parse(td, rec.Data)
	if err != nil {
		t.Fatalf("parse stored bundle: %v", err)
	}
	return b
}

var errStoreDown = errors.New("store down")

func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig returns a Config with in-memory stores and a fake clock.
func testConfig(clock ca.Clock) ca.Config {
	return ca.Config{
		TrustDomain: td,
		Keys:        ca.NewMemoryKeyStore(),
		Bundles:     newMemBundles(),
		Clock:       clock,
		Log:         discardLogger(),
	}
}

func newManager(t testing.TB, cfg ca.Config) *ca.Manager {
	t.Helper()
	m, err := ca.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func mustID(t testing.TB, s string) spiffeid.ID {
	t.Helper()
	id, err := spiffeid.FromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func signX509(t testing.TB, m *ca.Manager, p ca.X509SVIDParams) *x509.Certificate {
	t.Helper()
	if p.PublicKey == nil {
		p.PublicKey = testca.NewKey(t).Public()
	}
	chain, err := m.SignX509SVID(context.Background(), p)
	if err != nil {
		t.Fatalf("SignX509SVID: %v", err)
	}
	if len(chain) != 1 {
		t.Fatalf("chain length = %d, want 1 (leaf only; the CA is the root)", len(chain))
	}
	return chain[0]
}

// waitSignal waits for a value on ch, failing the test after a deadline.
func waitSignal(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// noSignal fails if ch holds a value.
func noSignal(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("unexpected %s", what)
	default:
	}
}
