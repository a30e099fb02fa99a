package svidformat

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// JWTBundleFile returns the JWT bundle file in spiffe-helper's format: a
// JSON object mapping each trust domain name to the standard base64 of that
// trust domain's JWKS JSON ({"keys":[…]}). Unlike go-spiffe's
// Bundle.Marshal, keys are ordered by key ID so that an unchanged bundle
// gives an identical file. A nil or empty set gives "{}".
func JWTBundleFile(set *jwtbundle.Set, opts Options) (svidfile.File, error) {
	if opts.JWTBundleFileName == "" {
		return svidfile.File{}, errors.New("svidformat: JWTBundleFileName (jwt_bundle_file_name) is empty")
	}
	out := make(map[string]string)
	if set != nil {
		for _, b := range set.Bundles() {
			jwks, err := marshalJWKS(b)
			if err != nil {
				return svidfile.File{}, fmt.Errorf("svidformat: marshal JWT bundle of %q: %w", b.TrustDomain(), err)
			}
			out[b.TrustDomain().Name()] = base64.StdEncoding.EncodeToString(jwks)
		}
	}
	data, err := json.Marshal(out) // map keys are sorted
	if err != nil {
		return svidfile.File{}, fmt.Errorf("svidformat: marshal JWT bundle file: %w", err)
	}
	return svidfile.File{Name: opts.JWTBundleFileName, Data: data, Mode: orDefault(opts.JWTBundleFileMode, DefaultJWTBundleFileMode)}, nil
}

// marshalJWKS is go-spiffe's Bundle.Marshal with a stable key order.
func marshalJWKS(b *jwtbundle.Bundle) ([]byte, error) {
	auth := b.JWTAuthorities()
	ids := make([]string, 0, len(auth))
	for id := range auth {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	jwks := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ids))}
	for _, id := range ids {
		jwks.Keys = append(jwks.Keys, jose.JSONWebKey{Key: auth[id], KeyID: id})
	}
	return json.Marshal(jwks)
}

// JWTSVIDFile returns a JWT-SVID file holding exactly the token (no
// trailing newline), as spiffe-helper writes it. A zero mode means 0600.
func JWTSVIDFile(name, token string, mode os.FileMode) svidfile.File {
	return svidfile.File{Name: name, Data: []byte(token), Mode: orDefault(mode, DefaultJWTSVIDFileMode)}
}
