package svidformat_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/helper/svidformat"
)

func TestJWTBundleFile(t *testing.T) {
	tdA := spiffeid.RequireTrustDomainFromString("example.org")
	tdB := spiffeid.RequireTrustDomainFromString("a.org")
	a := jwtbundle.FromJWTAuthorities(tdA, map[string]crypto.PublicKey{
		"k1": testca.NewKey(t).Public(), "k2": testca.NewKey(t).Public(), "k3": rsaKey(t).Public(),
	})
	b := jwtbundle.FromJWTAuthorities(tdB, map[string]crypto.PublicKey{"only": testca.NewKey(t).Public()})
	opts := svidformat.Options{JWTBundleFileName: "jwt_bundle.json"}

	file, err := svidformat.JWTBundleFile(jwtbundle.NewSet(a, b), opts)
	if err != nil {
		t.Fatal(err)
	}
	if file.Name != "jwt_bundle.json" || file.Mode != 0o600 {
		t.Fatalf("file %q mode %v", file.Name, file.Mode)
	}
	var doc map[string]string
	if err := json.Unmarshal(file.Data, &doc); err != nil {
		t.Fatalf("not a JSON object of strings: %v\n%s", err, file.Data)
	}
	if len(doc) != 2 {
		t.Fatalf("trust domains = %v", doc)
	}
	for _, want := range []*jwtbundle.Bundle{a, b} {
		t.Run(want.TrustDomain().Name(), func(t *testing.T) {
			jwks, err := base64.StdEncoding.DecodeString(doc[want.TrustDomain().Name()])
			if err != nil {
				t.Fatal(err)
			}
			got, err := jwtbundle.Parse(want.TrustDomain(), jwks)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatal("bundle does not round-trip")
			}
		})
	}
	t.Run("single key matches go-spiffe's Marshal byte for byte", func(t *testing.T) {
		ref, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if doc["a.org"] != base64.StdEncoding.EncodeToString(ref) {
			t.Fatal("differs from spiffe-helper's encoding")
		}
	})
	t.Run("stable key order", func(t *testing.T) {
		for range 20 {
			again, err := svidformat.JWTBundleFile(jwtbundle.NewSet(a, b), opts)
			if err != nil {
				t.Fatal(err)
			}
			if string(again.Data) != string(file.Data) {
				t.Fatal("same bundle marshalled differently")
			}
		}
	})
	t.Run("empty set", func(t *testing.T) {
		f, err := svidformat.JWTBundleFile(nil, opts)
		if err != nil || string(f.Data) != "{}" {
			t.Fatalf("= %q, %v", f.Data, err)
		}
	})
	t.Run("name required", func(t *testing.T) {
		_, err := svidformat.JWTBundleFile(jwtbundle.NewSet(a), svidformat.Options{})
		if err == nil || !strings.Contains(err.Error(), "jwt_bundle_file_name") {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestJWTSVIDFile(t *testing.T) {
	tests := []struct {
		name     string
		mode     uint32
		wantMode uint32
	}{
		{"default mode", 0, 0o600},
		{"explicit mode", 0o640, 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := svidformat.JWTSVIDFile("token.jwt", "header.payload.sig", fileMode(tt.mode))
			if f.Name != "token.jwt" || string(f.Data) != "header.payload.sig" || uint32(f.Mode) != tt.wantMode {
				t.Fatalf("= %+v", f)
			}
		})
	}
}
