package ca_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/ca"
)

func BenchmarkSignX509SVID(b *testing.B) {
	m := newManager(b, ca.Config{TrustDomain: td, Keys: ca.NewMemoryKeyStore(), Bundles: newMemBundles(), Log: discardLogger()})
	p := ca.X509SVIDParams{
		SPIFFEID:  mustID(b, "spiffe://example.org/ns/default/sa/web"),
		PublicKey: testca.NewKey(b).Public(),
		DNSNames:  []string{"web.example.org"},
	}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.SignX509SVID(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.SignX509SVID(ctx, p); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// raw is what the server's SVID APIs call: the DER chain, unparsed.
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.SignX509SVIDRaw(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkX509CreateCertificate is the ceiling: Go's x509.CreateCertificate
// plus ParseCertificate with the same key type (P-256) and a similar template,
// without any of the Manager's work. It builds its own CA rather than use
// internal/testca: the call measured needs the CA's private key in hand,
// which testca keeps to itself.
func BenchmarkX509CreateCertificate(b *testing.B) {
	caKey := testca.NewKey(b)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: bigOne(), NotBefore: now, NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		b.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		b.Fatal(err)
	}
	leafPub := testca.NewKey(b).Public()
	serial := new(big.Int).Lsh(big.NewInt(1), 127)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Country: []string{"US"}, Organization: []string{"SPIRE"}, CommonName: "web.example.org"},
		NotBefore:             now,
		NotAfter:              now.Add(time.Hour),
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/ns/default/sa/web"}},
		DNSNames:              []string{"web.example.org"},
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for b.Loop() {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, leafPub, caKey)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := x509.ParseCertificate(der); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignJWTSVID(b *testing.B) {
	m := newManager(b, ca.Config{TrustDomain: td, Keys: ca.NewMemoryKeyStore(), Bundles: newMemBundles(), Log: discardLogger()})
	p := ca.JWTSVIDParams{SPIFFEID: mustID(b, "spiffe://example.org/w"), Audience: []string{"db"}}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.SignJWTSVID(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.SignJWTSVID(ctx, p); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func bigOne() *big.Int { return big.NewInt(1) }
