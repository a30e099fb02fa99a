// Package svidstore persists the agent's own identity (its X.509-SVID and
// private key) and the trust bundle it learned from the server, so that a
// restarted agent can reuse them instead of attesting again.
//
// The SVID chain and its key live in one PEM file (mode 0600) replaced with a
// single atomic rename: a crash can never leave a new certificate next to an
// old key, which two separate files (SPIRE's agent_svid.der + keys.json)
// allow. The bundle is a separate file of concatenated DER certificates
// because it changes independently of the SVID.
package svidstore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/svidkit/svidkit/pkg/atomicfile"
)

// File names inside the data directory.
const (
	// IdentityFile holds the agent SVID chain and private key as PEM.
	IdentityFile = "agent_svid.pem"
	// BundleFile holds the trust domain's X.509 authorities as
	// concatenated DER certificates.
	BundleFile = "bundle.der"
)

// ErrNotFound reports that nothing has been stored yet.
var ErrNotFound = errors.New("svidstore: not found")

// Identity is the agent's own X.509-SVID with its private key.
type Identity struct {
	// Chain is the SVID, leaf first.
	Chain []*x509.Certificate
	// Key is the private key of the leaf.
	Key crypto.Signer
}

// Config configures a Store.
type Config struct {
	// Dir is the data directory; it is created with mode 0700 if missing.
	Dir string
	// KeyInMemory keeps the identity in memory only (the "memory" key
	// store): a restarted agent must attest again. The bundle is still
	// written to Dir.
	KeyInMemory bool
}

// Store reads and writes the agent's persisted state. It is safe for
// concurrent use.
type Store struct {
	dir         string
	keyInMemory bool

	mu  sync.Mutex // serializes writers and guards mem
	mem *Identity
}

// New returns a Store over cfg.Dir, creating the directory if needed.
func New(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("svidstore: data directory is required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("svidstore: create data directory %q: %w", cfg.Dir, err)
	}
	return &Store{dir: cfg.Dir, keyInMemory: cfg.KeyInMemory}, nil
}

// LoadIdentity returns the stored identity, or ErrNotFound. It checks that
// the key belongs to the leaf certificate but not whether the SVID expired.
func (s *Store) LoadIdentity() (Identity, error) {
	if s.keyInMemory {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.mem == nil {
			return Identity{}, ErrNotFound
		}
		return *s.mem, nil
	}
	path := filepath.Join(s.dir, IdentityFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Identity{}, ErrNotFound
	}
	if err != nil {
		return Identity{}, fmt.Errorf("svidstore: read identity %q: %w", path, err)
	}
	id, err := decodeIdentity(data)
	if err != nil {
		return Identity{}, fmt.Errorf("svidstore: parse identity %q: %w", path, err)
	}
	return id, nil
}

// StoreIdentity replaces the stored identity atomically.
func (s *Store) StoreIdentity(id Identity) error {
	if len(id.Chain) == 0 || id.Key == nil {
		return errors.New("svidstore: identity needs a chain and a key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keyInMemory {
		s.mem = &Identity{Chain: id.Chain, Key: id.Key}
		return nil
	}
	data, err := encodeIdentity(id)
	if err != nil {
		return fmt.Errorf("svidstore: encode identity: %w", err)
	}
	path := filepath.Join(s.dir, IdentityFile)
	if err := atomicfile.WriteBytes(path, data, 0o600); err != nil {
		return fmt.Errorf("svidstore: write identity: %w", err)
	}
	return nil
}

// DeleteIdentity removes the stored identity, for an agent the server no
// longer recognizes. Deleting a missing identity is not an error.
func (s *Store) DeleteIdentity() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem = nil
	if s.keyInMemory {
		return nil
	}
	path := filepath.Join(s.dir, IdentityFile)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("svidstore: delete identity %q: %w", path, err)
	}
	return nil
}

// LoadBundle returns the stored X.509 authorities, or ErrNotFound.
func (s *Store) LoadBundle() ([]*x509.Certificate, error) {
	path := filepath.Join(s.dir, BundleFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("svidstore: read bundle %q: %w", path, err)
	}
	certs, err := x509.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("svidstore: parse bundle %q: %w", path, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("svidstore: bundle %q holds no certificates", path)
	}
	return certs, nil
}

// StoreBundle replaces the stored X.509 authorities atomically.
func (s *Store) StoreBundle(certs []*x509.Certificate) error {
	if len(certs) == 0 {
		return errors.New("svidstore: bundle needs at least one certificate")
	}
	var buf bytes.Buffer
	for _, c := range certs {
		buf.Write(c.Raw)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := atomicfile.WriteBytes(filepath.Join(s.dir, BundleFile), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("svidstore: write bundle: %w", err)
	}
	return nil
}
