// Package testca is a small, real certificate authority for tests: it signs
// X.509-SVIDs and JWT-SVIDs for one trust domain with in-memory keys and
// implements server.Authority, so server tests exercise real chains without
// depending on the production CA.
package testca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

// DefaultTTL is the SVID lifetime used when a request asks for none.
const DefaultTTL = time.Hour

// jwtKeyID is the key ID of the CA's first JWT signing key; RotateJWTKey
// numbers the later ones.
const jwtKeyID = "testca-jwt"

// CA is an in-memory certificate authority. It is safe for concurrent use.
type CA struct {
	td      spiffeid.TrustDomain
	key     *ecdsa.PrivateKey
	cert    *x509.Certificate
	now     func() time.Time
	mu      sync.Mutex // guards the fields below
	x509Cnt int
	jwt     jwtKey
	jwtRot  int // RotateJWTKey calls
}

// New creates a CA for td with a fresh self-signed root valid for a day.
// now may be nil, meaning time.Now.
func New(td spiffeid.TrustDomain, now func() time.Time) (*CA, error) {
	if now == nil {
		now = time.Now
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testca: generate root key: %w", err)
	}
	start := now().Add(-time.Minute)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"testca"}, CommonName: td.Name()},
		NotBefore:             start,
		NotAfter:              start.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		URIs:                  []*url.URL{td.ID().URL()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("testca: create root: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testca: parse root: %w", err)
	}
	jk, err := newJWTKey(jwtKeyID)
	if err != nil {
		return nil, err
	}
	return &CA{td: td, key: key, cert: cert, jwt: jk, now: now}, nil
}

// TrustDomain is the trust domain the CA signs for.
func (c *CA) TrustDomain() spiffeid.TrustDomain { return c.td }

// Root returns the CA's self-signed root certificate.
func (c *CA) Root() *x509.Certificate { return c.cert }

// X509Signed reports how many X.509-SVIDs the CA has signed.
func (c *CA) X509Signed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.x509Cnt
}

// SignX509SVID signs a leaf X.509-SVID directly under the root.
func (c *CA) SignX509SVID(_ context.Context, p ca.X509SVIDParams) ([]*x509.Certificate, error) {
	if p.SPIFFEID.IsZero() {
		return nil, errors.New("testca: empty SPIFFE ID")
	}
	if !p.SPIFFEID.MemberOf(c.td) {
		return nil, fmt.Errorf("testca: %q is not in trust domain %q", p.SPIFFEID, c.td)
	}
	if p.PublicKey == nil {
		return nil, errors.New("testca: missing public key")
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("testca: serial: %w", err)
	}
	now := c.now()
	notAfter := now.Add(ttl)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             now.Add(-10 * time.Second),
		NotAfter:              notAfter,
		URIs:                  []*url.URL{p.SPIFFEID.URL()},
		DNSNames:              p.DNSNames,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if len(p.DNSNames) > 0 {
		tmpl.Subject.CommonName = p.DNSNames[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, p.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("testca: sign %q: %w", p.SPIFFEID, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testca: parse leaf: %w", err)
	}
	c.mu.Lock()
	c.x509Cnt++
	c.mu.Unlock()
	return []*x509.Certificate{leaf}, nil
}

// SignJWTSVID signs a JWT-SVID with the CA's ES256 key.
func (c *CA) SignJWTSVID(_ context.Context, p ca.JWTSVIDParams) (string, error) {
	if p.SPIFFEID.IsZero() {
		return "", errors.New("testca: empty SPIFFE ID")
	}
	if len(p.Audience) == 0 {
		return "", errors.New("testca: audience is required")
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	now := c.now()
	claims := jwt.Claims{
		Subject:  p.SPIFFEID.String(),
		Audience: jwt.Audience(p.Audience),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(ttl)),
	}
	c.mu.Lock()
	signer := c.jwt.signer
	c.mu.Unlock()
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("testca: sign jwt: %w", err)
	}
	return tok, nil
}

// Bundle returns the trust bundle: the root and the JWT key.
func (c *CA) Bundle() *spiffebundle.Bundle {
	b := spiffebundle.New(c.td)
	b.AddX509Authority(c.cert)
	c.mu.Lock()
	jk := c.jwt
	c.mu.Unlock()
	_ = b.AddJWTAuthority(jk.id, jk.key.Public())
	b.SetRefreshHint(5 * time.Minute)
	b.SetSequenceNumber(1)
	return b
}
