package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// keyType generates keys of one of SPIRE's ca_key_type kinds.
type keyType struct {
	name  string
	curve elliptic.Curve // nil for RSA
	bits  int            // RSA modulus size
}

func parseKeyType(name string) (keyType, error) {
	switch name {
	case "ec-p256":
		return keyType{name: name, curve: elliptic.P256()}, nil
	case "ec-p384":
		return keyType{name: name, curve: elliptic.P384()}, nil
	case "rsa-2048":
		return keyType{name: name, bits: 2048}, nil
	case "rsa-4096":
		return keyType{name: name, bits: 4096}, nil
	default:
		return keyType{}, fmt.Errorf("ca_key_type %q: unsupported (want ec-p256, ec-p384, rsa-2048 or rsa-4096)", name)
	}
}

func (k keyType) generate() (crypto.Signer, error) {
	if k.curve != nil {
		key, err := ecdsa.GenerateKey(k.curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate %s key: %w", k.name, err)
		}
		return key, nil
	}
	key, err := rsa.GenerateKey(rand.Reader, k.bits)
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", k.name, err)
	}
	return key, nil
}

// jwtAlgorithm picks the JWS algorithm for a signing key from the key itself,
// so keys loaded from disk keep working after ca_key_type changes.
func jwtAlgorithm(key crypto.Signer) (jose.SignatureAlgorithm, error) {
	return JWTAlgorithm(key.Public())
}

// JWTAlgorithm returns the JWS algorithm the CA signs with for a key of
// pub's type: ES256 (P-256), ES384 (P-384) or RS256 (RSA). Relying parties
// publishing the key (the OIDC discovery JWKS) label it with the same one.
func JWTAlgorithm(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		}
		return "", fmt.Errorf("unsupported JWT key curve %s", pub.Curve.Params().Name)
	case *rsa.PublicKey:
		return jose.RS256, nil
	default:
		return "", fmt.Errorf("unsupported JWT key type %T", pub)
	}
}
