package workloadapi_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
)

// encoded returns id with only its encoded chain and key, as the agent's
// cache hands identities out.
func encoded(t testing.TB, id workloadapi.Identity) workloadapi.Identity {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, c := range id.Chain {
		chain = append(chain, c.Raw...)
	}
	id.ChainDER, id.KeyPKCS8 = chain, key
	id.Chain, id.Key = nil, nil
	return id
}

func TestIdentityAccessors(t *testing.T) {
	ca := newTestCA(t, "example.org")
	parsed := ca.identity("/web", "")
	tests := []struct {
		name string
		id   workloadapi.Identity
	}{
		{"parsed", parsed},
		{"encoded", encoded(t, parsed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := tt.id.Certificates()
			if err != nil || len(chain) != 1 || !bytes.Equal(chain[0].Raw, parsed.Chain[0].Raw) {
				t.Fatalf("Certificates = %d certificates, %v; want the issued leaf", len(chain), err)
			}
			key, err := tt.id.PrivateKey()
			if err != nil || !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(parsed.Key.Public()) {
				t.Fatalf("PrivateKey = %v; want the issued key", err)
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		if _, err := (workloadapi.Identity{}).Certificates(); err == nil {
			t.Error("Certificates of an empty identity succeeded")
		}
		if _, err := (workloadapi.Identity{}).PrivateKey(); err == nil {
			t.Error("PrivateKey of an empty identity succeeded")
		}
	})
	t.Run("garbage", func(t *testing.T) {
		bad := workloadapi.Identity{ChainDER: []byte("nope"), KeyPKCS8: []byte("nope")}
		if _, err := bad.Certificates(); err == nil {
			t.Error("Certificates of a bad chain succeeded")
		}
		if _, err := bad.PrivateKey(); err == nil {
			t.Error("PrivateKey of a bad key succeeded")
		}
	})
}

// TestFetchX509SVIDEncodedIdentity checks that an identity given only in
// encoded form reaches the workload intact.
func TestFetchX509SVIDEncodedIdentity(t *testing.T) {
	ca := newTestCA(t, "example.org")
	parsed := ca.identity("/web", "")
	mgr := newFakeManager(ca, fakeEntry{sels: selfSels(), id: encoded(t, parsed)})
	e := serve(t, mgr, &fakeAttestor{})
	svid, err := e.client(t).FetchX509SVID(testCtx(t))
	if err != nil {
		t.Fatalf("FetchX509SVID: %v", err)
	}
	if svid.ID != parsed.SPIFFEID || !bytes.Equal(svid.Certificates[0].Raw, parsed.Chain[0].Raw) {
		t.Errorf("got SVID %s, want the issued %s", svid.ID, parsed.SPIFFEID)
	}
	if !svid.PrivateKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(parsed.Key.Public()) {
		t.Error("private key does not match the issued one")
	}
}
