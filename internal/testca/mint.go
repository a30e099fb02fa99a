package testca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// SVIDOptions shape an X.509-SVID minted by MintX509SVID. The zero value
// gives what NewX509SVID gives.
type SVIDOptions struct {
	// Key is the SVID's private key, of any type x509 signs for (ECDSA,
	// RSA, Ed25519); nil means a fresh P-256 key.
	Key crypto.Signer
	// NotBefore and NotAfter bound the SVID's validity; zero means the
	// CA's now less 10 seconds and now plus DefaultTTL (at most the CA
	// certificate's end). Given bounds are used as they are, even outside the CA's own validity, so that a test can mint
	// an expired or not yet valid SVID.
	NotBefore, NotAfter time.Time
	// Serial is the serial number; nil means a random one.
	Serial *big.Int
	// DNSNames go into the SVID; the first is also its common name.
	DNSNames []string
}

// MintX509SVID mints an X.509-SVID for id shaped by o, failing t on error.
// Its chain holds the leaf and the CA's intermediates.
func (c *CA) MintX509SVID(t testing.TB, id spiffeid.ID, o SVIDOptions) *x509svid.SVID {
	t.Helper()
	if o.Key == nil {
		o.Key = NewKey(t)
	}
	now := c.now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-10 * time.Second)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(DefaultTTL)
		if o.NotAfter.After(c.cert.NotAfter) {
			o.NotAfter = c.cert.NotAfter // as SignX509SVID does
		}
	}
	chain, err := c.sign(id, o.Key.Public(), o.DNSNames, o.NotBefore, o.NotAfter, o.Serial)
	if err != nil {
		t.Fatal(err)
	}
	return &x509svid.SVID{ID: id, Certificates: chain, PrivateKey: o.Key}
}

// NewIntermediate returns a CA for the same trust domain whose signing
// certificate is an intermediate CA signed by c, valid as long as c's: its
// SVIDs chain leaf → intermediate(s) → c's root, its Root and Bundle are
// c's, and it starts with c's JWT key.
func (c *CA) NewIntermediate(t testing.TB) *CA {
	t.Helper()
	key := NewKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(int64(len(c.chain) + 2)),
		Subject:               pkix.Name{Organization: []string{"testca"}, CommonName: "intermediate " + c.td.Name()},
		NotBefore:             c.cert.NotBefore,
		NotAfter:              c.cert.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		URIs:                  []*url.URL{c.td.ID().URL()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		t.Fatalf("testca: create intermediate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testca: parse intermediate: %v", err)
	}
	c.mu.Lock()
	jk := c.jwt
	c.mu.Unlock()
	return &CA{
		td: c.td, key: key, cert: cert, root: c.root,
		chain: append([]*x509.Certificate{cert}, c.chain...),
		now:   c.now, jwt: jk,
	}
}

// NewKey returns a fresh P-256 key, failing t on error: the key of an SVID
// a test signs through a CSR or an API rather than through MintX509SVID.
func NewKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testca: generate key: %v", err)
	}
	return k
}
