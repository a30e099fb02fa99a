package svidformat

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// encodeKey PEM-encodes key in the requested encoding. PKCS#1 and SEC1
// only fit RSA and ECDSA keys respectively; anything else is an error that
// names the option and the key type.
func encodeKey(key crypto.Signer, enc KeyEncoding) ([]byte, error) {
	var block pem.Block
	switch enc {
	case "", KeyPKCS8:
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("svidformat: encode key as PKCS#8: %w", err)
		}
		block = pem.Block{Type: "PRIVATE KEY", Bytes: der}
	case KeyPKCS1:
		rk, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("svidformat: KeyEncoding %q needs an RSA key, the SVID key is %T", enc, key)
		}
		block = pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}
	case KeySEC1:
		ek, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("svidformat: KeyEncoding %q needs an ECDSA key, the SVID key is %T", enc, key)
		}
		der, err := x509.MarshalECPrivateKey(ek)
		if err != nil {
			return nil, fmt.Errorf("svidformat: encode key as SEC1: %w", err)
		}
		block = pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		return nil, fmt.Errorf("svidformat: unknown KeyEncoding %q (want pkcs8, pkcs1 or sec1)", enc)
	}
	return pem.EncodeToMemory(&block), nil
}
