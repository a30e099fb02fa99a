package helper_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper"
	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// x509Config is a daemon-mode configuration writing the three X.509 files.
func x509Config(t testing.TB, sock string) *helperconfig.Config {
	t.Helper()
	c := helperconfig.New()
	c.AgentAddress = "unix://" + sock
	c.CertDir = t.TempDir()
	c.SVIDFileName, c.SVIDKeyFileName, c.SVIDBundleFileName = "svid.pem", "svid_key.pem", "svid_bundle.pem"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// start runs a Helper until the test ends and returns it with Run's result.
func start(t testing.TB, cfg *helperconfig.Config, opts helper.Options) (*helper.Helper, <-chan error) {
	t.Helper()
	h, err := helper.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	result := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		err := <-done
		result <- err
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(15 * time.Second):
			t.Error("helper did not stop within 15s")
		}
	})
	return h, result
}

// waitEvent returns the first event satisfying cond, failing after timeout.
func waitEvent(t testing.TB, h *helper.Helper, timeout time.Duration, what string, cond func(helper.Event) bool) helper.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-h.Events():
			if cond(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
			return helper.Event{}
		}
	}
}

func isWrite(ev helper.Event) bool { return ev.Kind == helper.EventWrite }

// readSVID reads the certificate and key files of dir and checks that the
// key belongs to the certificate.
func readSVID(t testing.TB, dir string) *x509.Certificate {
	t.Helper()
	certPEM, err := os.ReadFile(filepath.Join(dir, "svid.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "svid_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		t.Fatalf("svid.pem or svid_key.pem holds no PEM block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.(crypto.Signer).Public()
	if !reflect.DeepEqual(pub, cert.PublicKey) {
		t.Fatal("svid_key.pem does not match svid.pem")
	}
	return cert
}
