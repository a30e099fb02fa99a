package servingcert_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/servingcert"
)

// pair is a certificate for "oidc.test" from the test CA and its key, as
// PEM.
type pair struct {
	serial       *big.Int
	certPEM, key []byte
}

func newPair(t *testing.T, c *testca.CA) pair {
	t.Helper()
	key := testca.NewKey(t)
	chain, err := c.SignX509SVID(context.Background(), ca.X509SVIDParams{
		SPIFFEID: c.TrustDomain().ID(), PublicKey: key.Public(), DNSNames: []string{"oidc.test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pair{
		serial:  chain[0].SerialNumber,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw}),
		key:     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (p pair) write(t *testing.T, certFile, keyFile string) {
	t.Helper()
	writeFile(t, certFile, p.certPEM)
	writeFile(t, keyFile, p.key)
}

// serve runs a TLS listener with r's certificate and returns a function
// that handshakes with it and returns the served leaf's serial.
func serve(t *testing.T, c *testca.CA, r *servingcert.Reloader) func() *big.Int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.(*tls.Conn).Handshake()
				_, _ = io.Copy(io.Discard, conn)
			}()
		}
	}()
	roots := x509.NewCertPool()
	roots.AddCert(c.Root())
	return func() *big.Int {
		t.Helper()
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "oidc.test"})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestNew(t *testing.T) {
	c := testca.NewForTest(t, "oidc.test")
	dir := t.TempDir()
	good, other := newPair(t, c), newPair(t, c)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	good.write(t, certFile, keyFile)
	otherKey := filepath.Join(dir, "other-key.pem")
	writeFile(t, otherKey, other.key)
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, []byte("not PEM"))

	for _, tc := range []struct {
		name    string
		cfg     servingcert.Config
		wantErr string // empty: success
	}{
		{"matching pair", servingcert.Config{CertFile: certFile, KeyFile: keyFile}, ""},
		{"no certificate file", servingcert.Config{KeyFile: keyFile}, "certificate file is required"},
		{"no key file", servingcert.Config{CertFile: certFile}, "key file is required"},
		{"missing certificate file", servingcert.Config{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: keyFile}, "nope.pem"},
		{"key of another certificate", servingcert.Config{CertFile: certFile, KeyFile: otherKey}, "other-key.pem"},
		{"certificate file without PEM", servingcert.Config{CertFile: garbage, KeyFile: keyFile}, "garbage.pem"},
		{"negative interval", servingcert.Config{CertFile: certFile, KeyFile: keyFile, SyncInterval: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Log = quietLog()
			r, err := servingcert.New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if r.Leaf().SerialNumber.Cmp(good.serial) != 0 {
					t.Fatal("Leaf is not the certificate in the file")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestReload: new files are served to the next connection; unchanged files
// are not reloaded; a broken pair (a key written before its certificate,
// a truncated file) is refused and the last good certificate keeps serving.
func TestReload(t *testing.T) {
	c := testca.NewForTest(t, "oidc.test")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second, third := newPair(t, c), newPair(t, c), newPair(t, c)
	first.write(t, certFile, keyFile)
	r, err := servingcert.New(servingcert.Config{CertFile: certFile, KeyFile: keyFile, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	served := serve(t, c, r)
	if got := served(); got.Cmp(first.serial) != 0 {
		t.Fatalf("serving serial %v, want %v", got, first.serial)
	}

	t.Run("unchanged files", func(t *testing.T) {
		if changed, err := r.Reload(); changed || err != nil {
			t.Fatalf("Reload = %v, %v; want false, nil", changed, err)
		}
	})
	t.Run("new pair", func(t *testing.T) {
		second.write(t, certFile, keyFile)
		if changed, err := r.Reload(); !changed || err != nil {
			t.Fatalf("Reload = %v, %v; want true, nil", changed, err)
		}
		if got := served(); got.Cmp(second.serial) != 0 {
			t.Fatalf("serving serial %v, want the new %v", got, second.serial)
		}
	})
	t.Run("key replaced before its certificate", func(t *testing.T) {
		writeFile(t, keyFile, third.key)
		if _, err := r.Reload(); err == nil || !strings.Contains(err.Error(), "cert.pem") {
			t.Fatalf("Reload error = %v, want a mismatch naming cert.pem", err)
		}
		if got := served(); got.Cmp(second.serial) != 0 {
			t.Fatalf("serving serial %v, want the last good %v", got, second.serial)
		}
	})
	t.Run("truncated certificate", func(t *testing.T) {
		writeFile(t, certFile, third.certPEM[:len(third.certPEM)/2])
		if _, err := r.Reload(); err == nil {
			t.Fatal("Reload accepted a truncated certificate")
		}
		if got := served(); got.Cmp(second.serial) != 0 {
			t.Fatalf("serving serial %v, want the last good %v", got, second.serial)
		}
	})
	t.Run("pair completed", func(t *testing.T) {
		third.write(t, certFile, keyFile)
		if changed, err := r.Reload(); !changed || err != nil {
			t.Fatalf("Reload = %v, %v; want true, nil", changed, err)
		}
		if got := served(); got.Cmp(third.serial) != 0 {
			t.Fatalf("serving serial %v, want %v", got, third.serial)
		}
	})
}

// TestRunReloads: Run picks up new files on its own (the test waits for its
// "reloaded" log record), logs a broken pair without giving up, and returns
// nil when its context ends.
func TestRunReloads(t *testing.T) {
	c := testca.NewForTest(t, "oidc.test")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second := newPair(t, c), newPair(t, c)
	first.write(t, certFile, keyFile)
	logs := make(chan slog.Record, 100)
	r, err := servingcert.New(servingcert.Config{CertFile: certFile, KeyFile: keyFile,
		SyncInterval: 10 * time.Millisecond, Log: slog.New(recordHandler(logs))})
	if err != nil {
		t.Fatal(err)
	}
	served := serve(t, c, r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	waitLog := func(msg string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case rec := <-logs:
				if strings.Contains(rec.Message, msg) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q log within 10s", msg)
			}
		}
	}
	writeFile(t, keyFile, second.key) // a key without its certificate yet
	waitLog("not reloaded")
	if got := served(); got.Cmp(first.serial) != 0 {
		t.Fatalf("serving serial %v, want the last good %v", got, first.serial)
	}
	writeFile(t, certFile, second.certPEM)
	waitLog("serving certificate reloaded")
	if got := served(); got.Cmp(second.serial) != 0 {
		t.Fatalf("serving serial %v, want the new %v", got, second.serial)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// recordHandler sends every log record to ch, dropping records when ch is
// full.
type recordHandler chan slog.Record

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h <- r:
	default:
	}
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }
