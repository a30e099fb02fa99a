package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "ca-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	m, err := ca.New(ctx, ca.Config{
		TrustDomain: spiffeid.RequireTrustDomainFromString("example.org"),
		Keys:        ca.NewDiskKeyStore(filepath.Join(dir, "keys.json")),
		Bundles:     newMemBundles(), // a datastore.Store in the server
		Log:         discardLogger(),
	})
	if err != nil {
		log.Fatal(err)
	}
	// The workload's key; an example shows plain crypto rather than the
	// module's internal test CA.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	chain, err := m.SignX509SVID(ctx, ca.X509SVIDParams{
		SPIFFEID:  spiffeid.RequireFromString("spiffe://example.org/web"),
		PublicKey: key.Public(),
		DNSNames:  []string{"web.example.org"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(chain[0].URIs[0], chain[0].Subject.CommonName)
	fmt.Println(len(m.Bundle().X509Authorities()), "X.509 authority published")
	// Output:
	// spiffe://example.org/web web.example.org
	// 1 X.509 authority published
}
