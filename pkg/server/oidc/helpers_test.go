package oidc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
	"github.com/svidkit/svidkit/pkg/server/oidc"
	"github.com/svidkit/svidkit/pkg/server/servingcert"
)

var td = spiffeid.RequireTrustDomainFromString("oidc.test")

// newCA starts a real CA on a real SQLite store at the clock's time. With
// extraKeys > 0, the store first holds a bundle with that many JWT keys
// the CA never made (as several servers sharing a datastore leave), which
// the CA adopts and publishes.
func newCA(t testing.TB, clock *testclock.Clock, issuer string, extraKeys int) *ca.Manager {
	t.Helper()
	return newCAWith(t, clock, issuer, "", extraKeys)
}

// newCAKeyType starts a real CA with keys of keyType.
func newCAKeyType(t testing.TB, clock *testclock.Clock, keyType string) *ca.Manager {
	t.Helper()
	return newCAWith(t, clock, "", keyType, 0)
}

func newCAWith(t testing.TB, clock *testclock.Clock, issuer, keyType string, extraKeys int) *ca.Manager {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "datastore.sqlite3"), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if extraKeys > 0 {
		b := spiffebundle.New(td)
		for i := range extraKeys {
			key := testca.NewKey(t)
			if err := b.AddJWTAuthority(fmt.Sprintf("other-server-%03d", i), key.Public()); err != nil {
				t.Fatal(err)
			}
		}
		data, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := store.SetBundle(ctx, &datastore.Bundle{TrustDomain: td.Name(), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := ca.New(ctx, ca.Config{
		TrustDomain: td,
		KeyType:     keyType,
		Keys:        ca.NewMemoryKeyStore(),
		Bundles:     store,
		Clock:       clock,
		JWTIssuer:   issuer,
		Log:         quietLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// webCert writes a serving certificate for host from a test CA (not the
// trust domain's CA: a web PKI stand-in) and returns the reloader and the
// pool that trusts it.
func webCert(t testing.TB, host string) (*servingcert.Reloader, *x509.CertPool) {
	t.Helper()
	web := testca.NewForTest(t, "web.test")
	key := testca.NewKey(t)
	chain, err := web.SignX509SVID(context.Background(), ca.X509SVIDParams{
		SPIFFEID: web.TrustDomain().ID(), PublicKey: key.Public(), DNSNames: []string{host},
	})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := servingcert.New(servingcert.Config{CertFile: certFile, KeyFile: keyFile, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(web.Root())
	return r, pool
}

// start runs the endpoint until the test ends.
func start(t testing.TB, cfg oidc.Config) *oidc.Server {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = quietLog()
	}
	s, err := oidc.New(cfg)
	if err != nil {
		t.Fatalf("oidc.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

// client returns an HTTP client that sends every request to addr,
// whatever host the URL names, and trusts roots (nil: plain HTTP only).
func client(addr net.Addr, roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr.String())
		},
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get sends a GET with the given extra headers and returns the status,
// headers and body.
func get(t testing.TB, c *http.Client, method, url string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// logRecorder is a slog handler sending every record's message to a
// channel, so tests wait for what the endpoint logs (an event) instead of
// polling.
type logRecorder chan string

func newLogRecorder() logRecorder { return make(logRecorder, 1000) }

func (l logRecorder) logger() *slog.Logger { return slog.New(l) }

func (l logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l logRecorder) Handle(_ context.Context, r slog.Record) error {
	select {
	case l <- r.Message:
	default:
	}
	return nil
}
func (l logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logRecorder) WithGroup(string) slog.Handler      { return l }

// drain forgets the records logged so far.
func (l logRecorder) drain() {
	for {
		select {
		case <-l:
		default:
			return
		}
	}
}

// wait waits for a record whose message contains msg.
func (l logRecorder) wait(t testing.TB, msg string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-l:
			if strings.Contains(m, msg) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q log within 10s", msg)
		}
	}
}

// gauge returns the value of the gauge called name in reg.
func gauge(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %q", name)
	return 0
}
