package federation_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
	"github.com/svidkit/svidkit/pkg/server/federation"
)

// waitTimeout bounds every wait for an event in these tests.
const waitTimeout = 10 * time.Second

// domain is one trust domain's server state: a real SQLite store and a
// real CA publishing into it, on a clock the test moves.
type domain struct {
	td    spiffeid.TrustDomain
	store *sqlite.Store
	ca    *ca.Manager
	clock *testclock.Clock
}

func newDomain(t testing.TB, name string) *domain {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "datastore.sqlite3"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	td := spiffeid.RequireTrustDomainFromString(name)
	clock := testclock.New(time.Now())
	m, err := ca.New(ctx, ca.Config{
		TrustDomain: td, CATTL: 24 * time.Hour, Keys: ca.NewMemoryKeyStore(), Bundles: store,
		Clock: clock, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &domain{td: td, store: store, ca: m, clock: clock}
}

// svid signs an X.509-SVID for path in the domain and returns it as a TLS
// certificate getter.
func (d *domain) svid(t testing.TB, path string) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := d.ca.SignX509SVID(context.Background(), ca.X509SVIDParams{
		SPIFFEID: spiffeid.RequireFromPath(d.td, path), PublicKey: key.Public(), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cert := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
}

// rotate moves the clock to the CA's half life and rotates, which
// prepares the next X.509 CA: the published bundle changes and its
// sequence number grows. It returns the new bundle.
func (d *domain) rotate(t testing.TB) *spiffebundle.Bundle {
	t.Helper()
	before := d.ca.Bundle()
	d.clock.Add(13 * time.Hour)
	if err := d.ca.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := d.ca.Bundle()
	if after.Equal(before) {
		t.Fatal("rotation did not change the bundle")
	}
	return after
}

// setBundle stores b in d's store, as `bundle set` does.
func (d *domain) setBundle(t testing.TB, b *spiffebundle.Bundle) {
	t.Helper()
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.store.SetBundle(context.Background(), &datastore.Bundle{TrustDomain: b.TrustDomain().Name(), Data: data}); err != nil {
		t.Fatal(err)
	}
}

// stored returns d's stored bundle of td, nil when none.
func (d *domain) stored(t testing.TB, td spiffeid.TrustDomain) *spiffebundle.Bundle {
	t.Helper()
	rec, err := d.store.GetBundle(context.Background(), td.Name())
	if errors.Is(err, datastore.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := spiffebundle.Parse(td, rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startEndpoint runs an Endpoint until the test ends and returns it
// listening.
func startEndpoint(t testing.TB, cfg federation.EndpointConfig) *federation.Endpoint {
	t.Helper()
	e, _ := runEndpoint(t, cfg)
	return e
}

// runEndpoint runs an Endpoint (on 127.0.0.1:0 unless cfg says) until
// the test ends or stop is called, and returns it listening.
func runEndpoint(t testing.TB, cfg federation.EndpointConfig) (e *federation.Endpoint, stop func()) {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	e, err := federation.NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop = runTask(t, e.Run)
	t.Cleanup(stop)
	select {
	case <-e.Listening():
	case <-time.After(waitTimeout):
		t.Fatal("endpoint not listening")
	}
	return e, stop
}

// runTask runs fn in a goroutine and returns a function that cancels it
// and waits for it, failing the test on an error.
func runTask(t testing.TB, fn func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

func endpointURL(e *federation.Endpoint) string { return "https://" + e.Addr().String() + "/" }

// logSink collects log lines and signals each one, so that tests wait for
// a line instead of sleeping.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan struct{}
}

func newLogSink() (*logSink, *slog.Logger) {
	s := &logSink{lines: make(chan struct{}, 1)}
	return s, slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.lines <- struct{}{}:
	default:
	}
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// count returns how many lines contain every one of subs.
func (s *logSink) count(subs ...string) int {
	n := 0
	for l := range strings.Lines(s.String()) {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(l, sub)
		}
		if all {
			n++
		}
	}
	return n
}

// waitCount waits until at least n lines contain every one of subs.
func (s *logSink) waitCount(t testing.TB, n int, subs ...string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for s.count(subs...) < n {
		select {
		case <-s.lines:
		case <-deadline:
			t.Fatalf("timed out waiting for %d log lines with %q; log:\n%s", n, subs, s.String())
		}
	}
}

// webCert writes a certificate for 127.0.0.1/localhost signed by the test
// Web PKI CA into dir and returns the file paths.
func webCert(t testing.TB, web *testca.CA, dir, name string) (certFile, keyFile string, leaf *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := web.SignX509SVID(context.Background(), ca.X509SVIDParams{
		SPIFFEID: spiffeid.RequireFromPath(web.TrustDomain(), "/"+name), PublicKey: key.Public(), DNSNames: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeAtomic(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	writeAtomic(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw}), 0o644)
	return certFile, keyFile, chain[0]
}

func writeAtomic(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// rootPool returns a pool holding c's root.
func rootPool(c *testca.CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Root())
	return p
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
