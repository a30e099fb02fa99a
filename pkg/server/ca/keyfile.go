package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// keyFileVersion is the version of the key file's JSON layout.
const keyFileVersion = 1

// keyFile is the JSON layout of DiskKeyStore's file. Byte fields are DER
// (certificates, PKIX public keys) or PKCS#8 (private keys), base64-encoded
// by encoding/json.
type keyFile struct {
	Version     int              `json:"version"`
	X509Current *x509File        `json:"x509_current,omitempty"`
	X509Next    *x509File        `json:"x509_next,omitempty"`
	JWTCurrent  *jwtKeyFile      `json:"jwt_current,omitempty"`
	JWTNext     *jwtKeyFile      `json:"jwt_next,omitempty"`
	RetiredJWT  []jwtRetiredFile `json:"jwt_retired,omitempty"`
}

type x509File struct {
	Cert []byte `json:"cert"`
	Key  []byte `json:"key"`
}

type jwtKeyFile struct {
	KeyID     string    `json:"kid"`
	Key       []byte    `json:"key"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

type jwtRetiredFile struct {
	KeyID     string    `json:"kid"`
	PublicKey []byte    `json:"public_key"`
	NotAfter  time.Time `json:"not_after"`
}

func encodeKeySet(ks *KeySet) ([]byte, error) {
	f := keyFile{Version: keyFileVersion}
	var err error
	if f.X509Current, err = encodeX509(ks.X509Current); err != nil {
		return nil, fmt.Errorf("x509_current: %w", err)
	}
	if f.X509Next, err = encodeX509(ks.X509Next); err != nil {
		return nil, fmt.Errorf("x509_next: %w", err)
	}
	if f.JWTCurrent, err = encodeJWTKey(ks.JWTCurrent); err != nil {
		return nil, fmt.Errorf("jwt_current: %w", err)
	}
	if f.JWTNext, err = encodeJWTKey(ks.JWTNext); err != nil {
		return nil, fmt.Errorf("jwt_next: %w", err)
	}
	for i, a := range ks.RetiredJWT {
		pub, err := x509.MarshalPKIXPublicKey(a.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("jwt_retired[%d]: marshal public key: %w", i, err)
		}
		f.RetiredJWT = append(f.RetiredJWT, jwtRetiredFile{KeyID: a.KeyID, PublicKey: pub, NotAfter: a.NotAfter})
	}
	return json.MarshalIndent(f, "", "  ")
}

func encodeX509(a *X509Authority) (*x509File, error) {
	if a == nil {
		return nil, nil
	}
	key, err := x509.MarshalPKCS8PrivateKey(a.Signer)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return &x509File{Cert: a.Cert.Raw, Key: key}, nil
}

func encodeJWTKey(k *JWTKey) (*jwtKeyFile, error) {
	if k == nil {
		return nil, nil
	}
	key, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return &jwtKeyFile{KeyID: k.KeyID, Key: key, NotBefore: k.NotBefore, NotAfter: k.NotAfter}, nil
}

func decodeKeySet(data []byte) (*KeySet, error) {
	var f keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	if f.Version != keyFileVersion {
		return nil, fmt.Errorf("version: unsupported value %d (want %d)", f.Version, keyFileVersion)
	}
	ks := &KeySet{}
	var err error
	if ks.X509Current, err = decodeX509(f.X509Current); err != nil {
		return nil, fmt.Errorf("x509_current: %w", err)
	}
	if ks.X509Next, err = decodeX509(f.X509Next); err != nil {
		return nil, fmt.Errorf("x509_next: %w", err)
	}
	if ks.JWTCurrent, err = decodeJWTKey(f.JWTCurrent); err != nil {
		return nil, fmt.Errorf("jwt_current: %w", err)
	}
	if ks.JWTNext, err = decodeJWTKey(f.JWTNext); err != nil {
		return nil, fmt.Errorf("jwt_next: %w", err)
	}
	for i, r := range f.RetiredJWT {
		pub, err := x509.ParsePKIXPublicKey(r.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("jwt_retired[%d]: parse public key: %w", i, err)
		}
		if r.KeyID == "" {
			return nil, fmt.Errorf("jwt_retired[%d]: kid is empty", i)
		}
		ks.RetiredJWT = append(ks.RetiredJWT, JWTAuthority{KeyID: r.KeyID, PublicKey: pub, NotAfter: r.NotAfter})
	}
	return ks, nil
}

func decodeX509(f *x509File) (*X509Authority, error) {
	if f == nil {
		return nil, nil
	}
	cert, err := x509.ParseCertificate(f.Cert)
	if err != nil {
		return nil, fmt.Errorf("parse cert: %w", err)
	}
	signer, err := parseSigner(f.Key)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(cert.PublicKey, signer.Public()) {
		return nil, errors.New("key does not match the certificate's public key")
	}
	if !cert.IsCA {
		return nil, errors.New("cert is not a CA certificate")
	}
	return &X509Authority{Cert: cert, Signer: signer}, nil
}

func decodeJWTKey(f *jwtKeyFile) (*JWTKey, error) {
	if f == nil {
		return nil, nil
	}
	if f.KeyID == "" {
		return nil, errors.New("kid is empty")
	}
	signer, err := parseSigner(f.Key)
	if err != nil {
		return nil, err
	}
	if _, err := jwtAlgorithm(signer); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if !f.NotAfter.After(f.NotBefore) {
		return nil, errors.New("not_after is not after not_before")
	}
	return &JWTKey{KeyID: f.KeyID, Signer: signer, NotBefore: f.NotBefore, NotAfter: f.NotAfter}, nil
}

func parseSigner(der []byte) (crypto.Signer, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key: type %T cannot sign", key)
	}
	return signer, nil
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ae.Equal(b)
}
