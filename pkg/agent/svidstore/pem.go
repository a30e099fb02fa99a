package svidstore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// encodeIdentity renders the chain as CERTIFICATE blocks followed by the key
// as one PKCS#8 PRIVATE KEY block.
func encodeIdentity(id Identity) ([]byte, error) {
	var buf bytes.Buffer
	for _, c := range id.Chain {
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			return nil, fmt.Errorf("encode certificate: %w", err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	if err := pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeIdentity parses what encodeIdentity wrote and checks that the key
// matches the leaf.
func decodeIdentity(data []byte) (Identity, error) {
	var id Identity
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return Identity{}, fmt.Errorf("parse certificate: %w", err)
			}
			id.Chain = append(id.Chain, c)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return Identity{}, fmt.Errorf("parse key: %w", err)
			}
			signer, ok := k.(crypto.Signer)
			if !ok {
				return Identity{}, fmt.Errorf("key of type %T is not a signer", k)
			}
			id.Key = signer
		default:
			return Identity{}, fmt.Errorf("unexpected PEM block %q", b.Type)
		}
	}
	if len(id.Chain) == 0 {
		return Identity{}, errors.New("no certificate")
	}
	if id.Key == nil {
		return Identity{}, errors.New("no private key")
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := id.Key.Public().(equaler)
	if !ok || !pub.Equal(id.Chain[0].PublicKey) {
		return Identity{}, errors.New("private key does not match the certificate")
	}
	return id, nil
}
