package server_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/internal/testca"
)

// foreignBundle returns the API bundle of a new test CA of trust domain
// name: one X.509 and one JWT authority.
func (e *env) foreignBundle(name string) *types.Bundle {
	e.t.Helper()
	ca := testca.NewForTest(e.t, name)
	return &types.Bundle{
		TrustDomain:     spiffeid.RequireTrustDomainFromString(name).Name(),
		X509Authorities: []*types.X509Certificate{{Asn1: ca.Root().Raw}},
		JwtAuthorities:  []*types.JWTKey{{KeyId: ca.JWTKeyID(), PublicKey: mustPKIX(e.t, ca.JWTPublicKey())}},
		RefreshHint:     300,
		SequenceNumber:  1,
	}
}

// federate stores a bundle for each trust domain through the admin API,
// so that entries may federate with it, and returns them.
func (e *env) federate(names ...string) []*types.Bundle {
	e.t.Helper()
	var bs []*types.Bundle
	for _, n := range names {
		bs = append(bs, e.foreignBundle(n))
	}
	resp, err := bundlev1.NewBundleClient(e.admin).BatchSetFederatedBundle(context.Background(),
		&bundlev1.BatchSetFederatedBundleRequest{Bundle: bs})
	if err != nil {
		e.t.Fatalf("BatchSetFederatedBundle: %v", err)
	}
	for i, r := range resp.Results {
		if codes.Code(r.Status.Code) != codes.OK {
			e.t.Fatalf("set bundle of %s: %s", names[i], r.Status.Message)
		}
	}
	return bs
}

// mustPKIX encodes a public key in PKIX DER.
func mustPKIX(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
