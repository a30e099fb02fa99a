// Package testca is a small, real certificate authority for tests: it signs
// X.509-SVIDs and JWT-SVIDs for one trust domain with in-memory keys and
// implements server.Authority, so server tests exercise real chains without
// depending on the production CA. It is the one test CA of the module:
// tests that need an SVID with a given key (RSA too), validity (expired,
// not yet valid) or serial use MintX509SVID, a chain through an
// intermediate CA NewIntermediate, an expired root New with an earlier
// clock, and a bare key NewKey.
package testca

import (
	"context"
	"crypto"
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
	td   spiffeid.TrustDomain
	key  *ecdsa.PrivateKey
	cert *x509.Certificate // signs the SVIDs: the root, or an intermediate
	// root is the self-signed root; chain the intermediates from cert up
	// to, not including, root (empty for a root CA).
	root    *x509.Certificate
	chain   []*x509.Certificate
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
	return &CA{td: td, key: key, cert: cert, root: cert, jwt: jk, now: now}, nil
}

// TrustDomain is the trust domain the CA signs for.
func (c *CA) TrustDomain() spiffeid.TrustDomain { return c.td }

// Root returns the CA's self-signed root certificate.
func (c *CA) Root() *x509.Certificate { return c.root }

// Cert returns the certificate that signs the CA's SVIDs: Root, or the
// intermediate of a CA made by NewIntermediate.
func (c *CA) Cert() *x509.Certificate { return c.cert }

// X509Signed reports how many X.509-SVIDs the CA has signed.
func (c *CA) X509Signed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.x509Cnt
}

// SignX509SVID signs a leaf X.509-SVID with Cert; the chain returned holds
// the leaf and the intermediates up to the root, not the root.
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
	now := c.now()
	notAfter := now.Add(ttl)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	return c.sign(p.SPIFFEID, p.PublicKey, p.DNSNames, now.Add(-10*time.Second), notAfter, nil)
}

// sign signs a leaf X.509-SVID for id and pub, valid from nb to na, with
// serial (nil: random), and returns it with the intermediates.
func (c *CA) sign(id spiffeid.ID, pub crypto.PublicKey, dnsNames []string, nb, na time.Time, serial *big.Int) ([]*x509.Certificate, error) {
	if serial == nil {
		var err error
		if serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)); err != nil {
			return nil, fmt.Errorf("testca: serial: %w", err)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             nb,
		NotAfter:              na,
		URIs:                  []*url.URL{id.URL()},
		DNSNames:              dnsNames,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	if len(dnsNames) > 0 {
		tmpl.Subject.CommonName = dnsNames[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("testca: sign %q: %w", id, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testca: parse leaf: %w", err)
	}
	c.mu.Lock()
	c.x509Cnt++
	c.mu.Unlock()
	return append([]*x509.Certificate{leaf}, c.chain...), nil
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
	b.AddX509Authority(c.root)
	c.mu.Lock()
	jk := c.jwt
	c.mu.Unlock()
	_ = b.AddJWTAuthority(jk.id, jk.key.Public())
	b.SetRefreshHint(5 * time.Minute)
	b.SetSequenceNumber(1)
	return b
}
