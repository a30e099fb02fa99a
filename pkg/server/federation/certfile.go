package federation

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// ServingCertFile is the https_web profile's certificate and key, in PEM,
// re-read every SyncInterval.
type ServingCertFile struct {
	CertFile string
	KeyFile  string
	// SyncInterval is how often the files are re-read; default one hour,
	// as SPIRE's file_sync_interval.
	SyncInterval time.Duration
}

// maxPEMFile caps what is read of a certificate or key file.
const maxPEMFile = 1 << 20

// certFile serves a certificate read from files and reloads it when the
// files change; a pair that fails to load keeps the previous one.
type certFile struct {
	cfg ServingCertFile
	log *slog.Logger

	cur             atomic.Pointer[tls.Certificate]
	certPEM, keyPEM []byte // last loaded, read only by Run's goroutine
}

// newCertFile loads the pair once; a pair that cannot be loaded is an
// error, since the endpoint could serve nothing.
func newCertFile(cfg ServingCertFile, log *slog.Logger) (*certFile, error) {
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = time.Hour
	}
	c := &certFile{cfg: cfg, log: log}
	if _, err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads both files and installs the pair when it differs from the
// one served; it reports whether it installed one.
func (c *certFile) reload() (bool, error) {
	certPEM, err := readCapped(c.cfg.CertFile)
	if err != nil {
		return false, fmt.Errorf("read serving certificate: %w", err)
	}
	keyPEM, err := readCapped(c.cfg.KeyFile)
	if err != nil {
		return false, fmt.Errorf("read serving key: %w", err)
	}
	if bytes.Equal(certPEM, c.certPEM) && bytes.Equal(keyPEM, c.keyPEM) {
		return false, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("load serving certificate %q and key %q: %w", c.cfg.CertFile, c.cfg.KeyFile, err)
	}
	c.certPEM, c.keyPEM = certPEM, keyPEM
	c.cur.Store(&pair)
	return true, nil
}

// Run re-reads the files every SyncInterval until ctx ends.
func (c *certFile) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		switch changed, err := c.reload(); {
		case err != nil:
			c.log.Error("reload bundle endpoint certificate; serving the previous one", "error", err)
		case changed:
			c.log.Info("bundle endpoint certificate reloaded", "cert_file", c.cfg.CertFile,
				"not_after", c.cur.Load().Leaf.NotAfter)
		}
	}
}

func (c *certFile) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// readCapped reads a file of at most maxPEMFile bytes.
func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxPEMFile)
	}
	return b, nil
}
