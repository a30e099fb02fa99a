package ca_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/server/ca"
)

func TestRestartWithDiskKeyStoreKeepsKeys(t *testing.T) {
	clock := newFakeClock()
	path := filepath.Join(t.TempDir(), "keys.json")
	bundles := newMemBundles()
	cfg := testConfig(clock)
	cfg.Keys = ca.NewDiskKeyStore(path)
	cfg.Bundles = bundles

	first := newManager(t, cfg)
	firstBundle := first.Bundle()
	firstKID := jwtHeader(t, signJWT(t, first)).KeyID
	writes := bundles.setCount()

	clock.Set(clock.Now().Add(time.Hour))
	cfg.Keys = ca.NewDiskKeyStore(path) // a fresh store reads the file again
	second := newManager(t, cfg)
	secondBundle := second.Bundle()

	if !secondBundle.Equal(firstBundle) {
		t.Errorf("bundle changed across restart:\nfirst  %v\nsecond %v", firstBundle.X509Authorities(), secondBundle.X509Authorities())
	}
	if got := bundles.setCount(); got != writes {
		t.Errorf("restart wrote the bundle store %d more times; want none (nothing changed)", got-writes)
	}
	leaf := signX509(t, second, ca.X509SVIDParams{SPIFFEID: mustID(t, "spiffe://example.org/w")})
	if err := leaf.CheckSignatureFrom(firstBundle.X509Authorities()[0]); err != nil {
		t.Errorf("SVID after restart is not signed by the original CA: %v", err)
	}
	if kid := jwtHeader(t, signJWT(t, second)).KeyID; kid != firstKID {
		t.Errorf("JWT kid after restart = %q, want %q", kid, firstKID)
	}
}

func TestDiskKeyStoreFileMode(t *testing.T) {
	clock := newFakeClock()
	path := filepath.Join(t.TempDir(), "keys.json")
	cfg := testConfig(clock)
	cfg.Keys = ca.NewDiskKeyStore(path)
	m := newManager(t, cfg)
	checkMode(t, path)

	// A rewrite replaces a file whose mode was loosened by hand.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(ca.DefaultCATTL / 2))
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkMode(t, path)

	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only keys.json (no temporary files left)", len(entries))
	}
}

func checkMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}
}

func TestDiskKeyStoreCorruptFile(t *testing.T) {
	valid := writeValidKeyFile(t)
	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{name: "not JSON", content: []byte("{garbage"), wantErr: "parse JSON"},
		{name: "empty", content: []byte{}, wantErr: "parse JSON"},
		{name: "unknown version", content: []byte(`{"version": 7}`), wantErr: "version: unsupported value 7"},
		{name: "unknown field", content: []byte(`{"version": 1, "extra": 1}`), wantErr: "unknown field"},
		{name: "bad certificate", content: bytes.Replace(valid, []byte(`"cert": "`), []byte(`"cert": "AAAA`), 1), wantErr: "x509_current: parse cert"},
		{name: "bad key", content: bytes.Replace(valid, []byte(`"key": "`), []byte(`"key": "AAAA`), 1), wantErr: "parse key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(newFakeClock())
			cfg.Keys = ca.NewDiskKeyStore(path)
			_, err := ca.New(context.Background(), cfg)
			if err == nil {
				t.Fatal("New succeeded with a corrupt key file")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one naming %q and containing %q", err, path, tt.wantErr)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.content) {
				t.Error("corrupt key file was modified")
			}
		})
	}
}

func TestDiskKeyStoreUnreadableFile(t *testing.T) {
	// A directory where the file should be cannot be read as a file.
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := ca.NewDiskKeyStore(path).Load(context.Background())
	if err == nil || errors.Is(err, ca.ErrKeysNotFound) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load error = %v, want a read error naming %q", err, path)
	}
}

func TestDiskKeyStoreMissingFile(t *testing.T) {
	_, err := ca.NewDiskKeyStore(filepath.Join(t.TempDir(), "keys.json")).Load(context.Background())
	if !errors.Is(err, ca.ErrKeysNotFound) {
		t.Fatalf("Load error = %v, want ErrKeysNotFound", err)
	}
}

func TestKeysOfAnotherTrustDomainRefused(t *testing.T) {
	keys := ca.NewMemoryKeyStore()
	cfg := testConfig(newFakeClock())
	cfg.Keys = keys
	newManager(t, cfg)

	cfg.TrustDomain = mustID(t, "spiffe://other.org").TrustDomain()
	cfg.Bundles = newMemBundles()
	_, err := ca.New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), `not trust domain "other.org"`) {
		t.Fatalf("New error = %v, want a trust domain mismatch", err)
	}
}

// writeValidKeyFile creates keys with a DiskKeyStore and returns the file.
func writeValidKeyFile(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	cfg := testConfig(newFakeClock())
	cfg.Keys = ca.NewDiskKeyStore(path)
	newManager(t, cfg)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func signJWT(t testing.TB, m *ca.Manager) string {
	t.Helper()
	token, err := m.SignJWTSVID(context.Background(), ca.JWTSVIDParams{SPIFFEID: mustID(t, "spiffe://example.org/w"), Audience: []string{"a"}})
	if err != nil {
		t.Fatalf("SignJWTSVID: %v", err)
	}
	return token
}
