package testca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// jwtKey is the CA's current JWT signing key.
type jwtKey struct {
	id     string
	key    *ecdsa.PrivateKey
	signer jose.Signer
}

func newJWTKey(id string) (jwtKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return jwtKey{}, fmt.Errorf("testca: generate jwt key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", id))
	if err != nil {
		return jwtKey{}, fmt.Errorf("testca: jwt signer: %w", err)
	}
	return jwtKey{id: id, key: key, signer: signer}, nil
}

// JWTPublicKey returns the public key that verifies the CA's JWT-SVIDs.
func (c *CA) JWTPublicKey() crypto.PublicKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jwt.key.Public()
}

// JWTKeyID returns the key ID of the CA's current JWT signing key.
func (c *CA) JWTKeyID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jwt.id
}

// RotateJWTKey replaces the JWT signing key with a fresh one under a new key
// ID, as a CA rotation does: later JWT-SVIDs and bundles use only the new
// key. It returns the new key ID.
func (c *CA) RotateJWTKey() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jwtRot++
	jk, err := newJWTKey(fmt.Sprintf("%s-%d", jwtKeyID, c.jwtRot+1))
	if err != nil {
		return "", err
	}
	c.jwt = jk
	return jk.id, nil
}
