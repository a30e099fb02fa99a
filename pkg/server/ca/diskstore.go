package ca

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/svidkit/svidkit/pkg/atomicfile"
)

// DiskKeyStore keeps the key set in one JSON file (SPIRE's KeyManager "disk"
// keys_path). The file is written with mode 0600 by writing a temporary file
// in the same directory, syncing it, renaming it over the old one and syncing
// the directory, so a crash leaves either the old or the new key set. A file
// that cannot be read or parsed is reported, never replaced: replacing it
// would silently change the trust domain's keys.
type DiskKeyStore struct {
	path string
	mu   sync.Mutex
}

// NewDiskKeyStore returns a KeyStore backed by the file at path.
func NewDiskKeyStore(path string) *DiskKeyStore {
	return &DiskKeyStore{path: path}
}

// Path returns the key file's path.
func (s *DiskKeyStore) Path() string { return s.path }

// Load reads and validates the key file. A missing file gives ErrKeysNotFound.
func (s *DiskKeyStore) Load(context.Context) (*KeySet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keys file %q: %w", s.path, ErrKeysNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read keys file %q: %w", s.path, err)
	}
	ks, err := decodeKeySet(data)
	if err != nil {
		return nil, fmt.Errorf("keys file %q: %w", s.path, err)
	}
	return ks, nil
}

// Store atomically replaces the key file with ks.
func (s *DiskKeyStore) Store(_ context.Context, ks *KeySet) error {
	data, err := encodeKeySet(ks)
	if err != nil {
		return fmt.Errorf("encode keys for %q: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("create keys directory: %w", err)
	}
	if err := atomicfile.WriteBytes(s.path, data, 0o600); err != nil {
		return fmt.Errorf("keys file: %w", err)
	}
	return nil
}
