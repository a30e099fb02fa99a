package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

// rotationCheckInterval bounds how long the server SVID rotator sleeps
// between looks at the clock.
const rotationCheckInterval = time.Second

// serverSVID holds the TCP endpoint's own X.509-SVID and re-signs it at
// half its lifetime. The TLS config reads it through GetCertificate, so
// rotation needs no restart.
type serverSVID struct {
	id        spiffeid.ID
	authority Authority
	clock     Clock
	log       *slog.Logger

	mu   sync.RWMutex
	cert *tls.Certificate
	leaf *x509.Certificate
}

// rotate signs a fresh SVID with a new key.
func (s *serverSVID) rotate(ctx context.Context) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate server key: %w", err)
	}
	chain, err := s.authority.SignX509SVID(ctx, ca.X509SVIDParams{SPIFFEID: s.id, PublicKey: key.Public()})
	if err != nil {
		return fmt.Errorf("sign server SVID: %w", err)
	}
	if len(chain) == 0 {
		return errors.New("sign server SVID: authority returned an empty chain")
	}
	cert := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	s.mu.Lock()
	s.cert, s.leaf = cert, chain[0]
	s.mu.Unlock()
	s.log.Debug("server SVID rotated", "serial", chain[0].SerialNumber.String(), "expires_at", chain[0].NotAfter)
	return nil
}

// rotateAt returns when the current SVID reaches half its lifetime.
func (s *serverSVID) rotateAt() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.leaf.NotBefore.Add(s.leaf.NotAfter.Sub(s.leaf.NotBefore) / 2)
}

// Run re-signs the SVID at half life until ctx is cancelled. The first SVID
// must have been signed with rotate.
func (s *serverSVID) Run(ctx context.Context) error {
	const retry = 5 * time.Second
	for {
		// Re-check at least every rotationCheckInterval so that a clock
		// that jumps (suspend, or a test clock) is noticed promptly.
		wait := min(s.rotateAt().Sub(s.clock.Now()), rotationCheckInterval)
		if wait <= 0 {
			if err := s.rotate(ctx); err != nil {
				s.log.Error("rotate server SVID", "error", err)
				wait = retry
			} else {
				continue
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// getCertificate serves the current SVID to TLS handshakes.
func (s *serverSVID) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cert == nil {
		return nil, errors.New("server SVID not ready")
	}
	return s.cert, nil
}

// bundleSource serves the authority's current X.509 bundle to verifiers.
type bundleSource struct{ authority Authority }

// GetX509BundleForTrustDomain implements x509bundle.Source.
func (b bundleSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return b.authority.Bundle().GetX509BundleForTrustDomain(td)
}

// tcpTLSConfig returns the TCP endpoint's TLS config: the server presents
// its rotating SVID; clients may present an X.509-SVID, which is verified
// against the current bundle on every handshake. Whether a method needs a
// client SVID is decided per request by the authorizer.
func tcpTLSConfig(svid *serverSVID, authority Authority, clock Clock) *tls.Config {
	src := bundleSource{authority: authority}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: svid.getCertificate,
		ClientAuth:     tls.RequestClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return nil
			}
			if _, _, err := x509svid.ParseAndVerify(raw, src, x509svid.WithTime(clock.Now())); err != nil {
				return fmt.Errorf("verify client SVID: %w", err)
			}
			return nil
		},
	}
}

// GetCertificate serves the server's own rotating X.509-SVID
// (spiffe://<trust domain>/spire/server) to TLS handshakes of the server's
// other listeners, such as the https_spiffe bundle endpoint. It fails
// until Run has signed the first SVID (Listening is closed after that).
func (s *Server) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.svid.getCertificate(hello)
}
