package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// TestBundleDigestIsCanonical: the digest of the own bundle, which held
// syncs compare with what agents hold, is the same however often it is
// computed and in whatever order the JWT authorities were added, and
// changes with the authorities. With two JWT authorities (two servers on
// one database, or a prepared next key) the bundle document lists them in
// map order, so a digest of it changed between calls and ended every held
// sync at each check.
func TestBundleDigestIsCanonical(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("digest.test")
	ca := testCACert(t)
	keys := make([]*ecdsa.PrivateKey, 6)
	for i := range keys {
		var err error
		if keys[i], err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	build := func(order []int) *spiffebundle.Bundle {
		b := spiffebundle.New(td)
		b.AddX509Authority(ca)
		for _, i := range order {
			if err := b.AddJWTAuthority(fmt.Sprintf("key-%d", i), keys[i].Public()); err != nil {
				t.Fatal(err)
			}
		}
		b.SetSequenceNumber(7)
		return b
	}
	digest := func(b *spiffebundle.Bundle) [32]byte {
		d, err := bundleDigest(b)
		if err != nil {
			t.Fatalf("bundleDigest: %v", err)
		}
		return d
	}
	want := digest(build([]int{0, 1, 2, 3, 4, 5}))
	tests := []struct {
		name  string
		order []int
		same  bool
	}{
		{"same bundle again", []int{0, 1, 2, 3, 4, 5}, true},
		{"authorities added in another order", []int{5, 3, 1, 0, 2, 4}, true},
		{"one authority fewer", []int{0, 1, 2, 3, 4}, false},
		{"another authority", []int{0, 1, 2, 3, 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 20 {
				if got := digest(build(tt.order)); (got == want) != tt.same {
					t.Fatalf("digest equal to the original = %v, want %v", got == want, tt.same)
				}
			}
		})
	}
}

// testCACert returns a self-signed CA certificate.
func testCACert(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
