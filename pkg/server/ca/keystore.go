package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"slices"
	"sync"
	"time"
)

// ErrKeysNotFound is returned by KeyStore.Load when nothing has been stored
// yet; the Manager then creates fresh keys.
var ErrKeysNotFound = errors.New("no keys stored")

// KeyStore persists the CA's key set. Store must replace the whole set
// atomically: a reader never sees a mix of old and new keys.
type KeyStore interface {
	// Load returns the stored key set, or an error wrapping ErrKeysNotFound.
	Load(ctx context.Context) (*KeySet, error)
	// Store replaces the stored key set.
	Store(ctx context.Context, ks *KeySet) error
}

// KeySet is everything the CA must remember across restarts. Its values are
// treated as immutable once stored.
type KeySet struct {
	// X509Current signs X.509-SVIDs; X509Next is the prepared successor,
	// already published in the bundle.
	X509Current *X509Authority
	X509Next    *X509Authority
	// JWTCurrent signs JWT-SVIDs; JWTNext is the prepared successor.
	JWTCurrent *JWTKey
	JWTNext    *JWTKey
	// RetiredJWT are former JWT keys (public part only) that stay in the
	// bundle until NotAfter. The bundle document cannot carry a JWT key's
	// expiry, so it is remembered here.
	RetiredJWT []JWTAuthority
}

// X509Authority is an X.509 CA certificate with its private key.
type X509Authority struct {
	Cert   *x509.Certificate
	Signer crypto.Signer
}

// JWTKey is a JWT signing key. Tokens it signs never outlive NotAfter.
type JWTKey struct {
	KeyID     string
	Signer    crypto.Signer
	NotBefore time.Time
	NotAfter  time.Time
}

// JWTAuthority is the public half of a JWT key as published in the bundle.
type JWTAuthority struct {
	KeyID     string
	PublicKey crypto.PublicKey
	NotAfter  time.Time
}

func (ks *KeySet) clone() *KeySet {
	if ks == nil {
		return &KeySet{}
	}
	c := *ks
	c.RetiredJWT = slices.Clone(ks.RetiredJWT)
	return &c
}

// MemoryKeyStore keeps the key set in memory: keys are lost when the process
// exits. Meant for tests and throw-away servers.
type MemoryKeyStore struct {
	mu sync.Mutex
	ks *KeySet
}

// NewMemoryKeyStore returns an empty in-memory KeyStore.
func NewMemoryKeyStore() *MemoryKeyStore {
	return &MemoryKeyStore{}
}

// Load returns a copy of the stored key set.
func (s *MemoryKeyStore) Load(context.Context) (*KeySet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ks == nil {
		return nil, ErrKeysNotFound
	}
	return s.ks.clone(), nil
}

// Store replaces the stored key set with a copy of ks.
func (s *MemoryKeyStore) Store(_ context.Context, ks *KeySet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ks = ks.clone()
	return nil
}
