package ca

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
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
	if err := writeFileAtomic(s.path, data); err != nil {
		return fmt.Errorf("write keys file %q: %w", s.path, err)
	}
	return nil
}

// writeFileAtomic writes data to path with mode 0600 via a synced temporary
// file and a rename, then syncs the directory so the rename is durable.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	// CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			// Best-effort cleanup: the file may already be closed, and the
			// error that brought us here is the one worth returning.
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename temporary file: %w", err)
	}
	renamed = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	if err := d.Sync(); err != nil {
		return errors.Join(fmt.Errorf("sync directory: %w", err), d.Close())
	}
	return d.Close()
}
