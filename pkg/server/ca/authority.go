package ca

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// backdate is how far NotBefore is moved into the past, tolerating clock
// skew between the server and relying parties (SPIRE uses the same 10s).
const backdate = 10 * time.Second

// newX509Authority creates a self-signed root CA for the trust domain valid
// from now-backdate to now+CATTL.
func (m *Manager) newX509Authority(now time.Time) (*X509Authority, error) {
	key, err := m.keyType.generate()
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	subject := m.cfg.Subject
	// The serialNumber attribute makes successive CA subjects differ, so
	// verifiers never confuse an old CA with its successor.
	subject.SerialNumber = serial.String()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(m.cfg.CATTL),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		URIs:                  []*url.URL{m.td.ID().URL()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &X509Authority{Cert: cert, Signer: key}, nil
}

// newJWTKey creates a JWT signing key valid from now to now+CATTL, with a
// random key ID.
func (m *Manager) newJWTKey(now time.Time) (*JWTKey, error) {
	key, err := m.keyType.generate()
	if err != nil {
		return nil, err
	}
	kid, err := newKeyID()
	if err != nil {
		return nil, err
	}
	return &JWTKey{KeyID: kid, Signer: key, NotBefore: now, NotAfter: now.Add(m.cfg.CATTL)}, nil
}

// jwtSigner is a JWT key with its ready-to-use JOSE signer. jose signers
// keep no per-signature state, so one is shared by concurrent callers.
type jwtSigner struct {
	key    *JWTKey
	signer jose.Signer
}

func newJWTSigner(k *JWTKey) (*jwtSigner, error) {
	alg, err := jwtAlgorithm(k.Signer)
	if err != nil {
		return nil, err
	}
	s, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: k.Signer, KeyID: k.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("create JWT signer for key %q: %w", k.KeyID, err)
	}
	return &jwtSigner{key: k, signer: s}, nil
}

func newKeyID() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key ID: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
