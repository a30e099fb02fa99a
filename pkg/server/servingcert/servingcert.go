// Package servingcert serves a TLS certificate and key kept in two PEM
// files (SPIRE's serving_cert_file { cert_file_path key_file_path
// file_sync_interval }) and picks up new files without a restart: the
// files are read every sync interval and swapped in when their content
// changed and they form a valid pair. A bad or half-written pair is
// logged and the last good certificate keeps serving.
//
// It is a leaf (standard library only) so that every HTTPS listener of the
// server with a configured certificate (the OIDC discovery endpoint, the
// federation bundle endpoint's https_web profile) can share the one copy.
package servingcert

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// DefaultSyncInterval is how often the files are re-read when Config sets
// no interval (SPIRE's file_sync_interval default).
const DefaultSyncInterval = time.Minute

// Config names the certificate and key files.
type Config struct {
	// CertFile holds the PEM certificate chain, leaf first. Required.
	CertFile string
	// KeyFile holds the leaf's PEM private key. Required.
	KeyFile string
	// SyncInterval is how often Run re-reads the files; default
	// DefaultSyncInterval.
	SyncInterval time.Duration
	// Log receives reloads and failures; default slog.Default().
	Log *slog.Logger
}

// Reloader holds the current certificate. Its methods are safe for
// concurrent use.
type Reloader struct {
	cfg     Config
	current atomic.Pointer[loaded]
}

// loaded is one certificate with the file bytes it came from.
type loaded struct {
	cert            *tls.Certificate
	certPEM, keyPEM []byte
}

// New loads the files once and fails when they do not hold a matching
// certificate and key, naming the file.
func New(cfg Config) (*Reloader, error) {
	switch {
	case cfg.CertFile == "":
		return nil, errors.New("servingcert: certificate file is required")
	case cfg.KeyFile == "":
		return nil, errors.New("servingcert: key file is required")
	case cfg.SyncInterval < 0:
		return nil, fmt.Errorf("servingcert: sync interval must not be negative, got %s", cfg.SyncInterval)
	case cfg.SyncInterval == 0:
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &Reloader{cfg: cfg}
	l, err := r.load()
	if err != nil {
		return nil, err
	}
	r.current.Store(l)
	return r, nil
}

// GetCertificate returns the current certificate; it is meant for
// tls.Config.GetCertificate, so each new connection gets the newest one.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.current.Load().cert, nil
}

// Leaf returns the current leaf certificate.
func (r *Reloader) Leaf() *x509.Certificate {
	return r.current.Load().cert.Leaf
}

// Reload reads the files and swaps in their certificate when their
// content changed. It reports whether it did; on error the current
// certificate stays.
func (r *Reloader) Reload() (bool, error) {
	cur := r.current.Load()
	certPEM, keyPEM, err := r.read()
	if err != nil {
		return false, err
	}
	if bytes.Equal(certPEM, cur.certPEM) && bytes.Equal(keyPEM, cur.keyPEM) {
		return false, nil
	}
	l, err := r.parse(certPEM, keyPEM)
	if err != nil {
		return false, err
	}
	r.current.Store(l)
	return true, nil
}

// Run calls Reload every SyncInterval until ctx ends, then returns nil.
// Failures are logged, never fatal: the last good certificate serves
// until the files are fixed.
func (r *Reloader) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		changed, err := r.Reload()
		switch {
		case err != nil:
			r.cfg.Log.Error("serving certificate not reloaded; the previous one stays in use",
				"cert_file_path", r.cfg.CertFile, "key_file_path", r.cfg.KeyFile, "error", err)
		case changed:
			leaf := r.Leaf()
			r.cfg.Log.Info("serving certificate reloaded", "cert_file_path", r.cfg.CertFile,
				"serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
		}
	}
}

func (r *Reloader) load() (*loaded, error) {
	certPEM, keyPEM, err := r.read()
	if err != nil {
		return nil, err
	}
	return r.parse(certPEM, keyPEM)
}

func (r *Reloader) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(r.cfg.CertFile); err != nil {
		return nil, nil, fmt.Errorf("servingcert: read certificate: %w", err)
	}
	if keyPEM, err = os.ReadFile(r.cfg.KeyFile); err != nil {
		return nil, nil, fmt.Errorf("servingcert: read key: %w", err)
	}
	return certPEM, keyPEM, nil
}

func (r *Reloader) parse(certPEM, keyPEM []byte) (*loaded, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("servingcert: certificate %q with key %q: %w", r.cfg.CertFile, r.cfg.KeyFile, err)
	}
	// X509KeyPair fills Leaf since Go 1.23.
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("servingcert: certificate %q: %w", r.cfg.CertFile, err)
		}
	}
	return &loaded{cert: &cert, certPEM: certPEM, keyPEM: keyPEM}, nil
}
