package workloadapi

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
)

// Certificates returns the identity's chain, leaf first: Chain when set,
// otherwise ChainDER parsed.
func (id Identity) Certificates() ([]*x509.Certificate, error) {
	if len(id.Chain) > 0 {
		return id.Chain, nil
	}
	if len(id.ChainDER) == 0 {
		return nil, errors.New("identity has no certificate chain")
	}
	chain, err := x509.ParseCertificates(id.ChainDER)
	if err != nil {
		return nil, fmt.Errorf("parse chain of %s: %w", id.SPIFFEID, err)
	}
	return chain, nil
}

// PrivateKey returns the identity's private key: Key when set, otherwise
// KeyPKCS8 parsed.
func (id Identity) PrivateKey() (crypto.Signer, error) {
	if id.Key != nil {
		return id.Key, nil
	}
	if len(id.KeyPKCS8) == 0 {
		return nil, errors.New("identity has no private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(id.KeyPKCS8)
	if err != nil {
		return nil, fmt.Errorf("parse key of %s: %w", id.SPIFFEID, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of %s is a %T, not a signer", id.SPIFFEID, k)
	}
	return s, nil
}
