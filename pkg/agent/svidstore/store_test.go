package svidstore_test

import (
	"crypto/ecdsa"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/agent/svidstore"
)

// newIdentity returns an agent identity with the given serial, valid for
// an hour, from a test CA of its own.
func newIdentity(t *testing.T, serial int64) svidstore.Identity {
	t.Helper()
	id := spiffeid.RequireFromString("spiffe://example.org/spire/agent/join_token/abc")
	s := testca.NewForTest(t, id.TrustDomain().Name()).MintX509SVID(t, id, testca.SVIDOptions{Serial: big.NewInt(serial)})
	return svidstore.Identity{Chain: s.Certificates, Key: s.PrivateKey}
}

func newStore(t *testing.T, inMemory bool) (*svidstore.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := svidstore.New(svidstore.Config{Dir: dir, KeyInMemory: inMemory})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestIdentityRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		inMemory bool
	}{
		{name: "disk", inMemory: false},
		{name: "memory", inMemory: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := newStore(t, tt.inMemory)
			if _, err := s.LoadIdentity(); !errors.Is(err, svidstore.ErrNotFound) {
				t.Fatalf("LoadIdentity on empty store = %v, want ErrNotFound", err)
			}
			id := newIdentity(t, 1)
			if err := s.StoreIdentity(id); err != nil {
				t.Fatal(err)
			}
			got, err := s.LoadIdentity()
			if err != nil {
				t.Fatal(err)
			}
			if !got.Chain[0].Equal(id.Chain[0]) || !got.Key.Public().(*ecdsa.PublicKey).Equal(id.Key.Public()) {
				t.Fatal("loaded identity differs from stored one")
			}
			_, statErr := os.Stat(filepath.Join(dir, svidstore.IdentityFile))
			if tt.inMemory != errors.Is(statErr, os.ErrNotExist) {
				t.Fatalf("identity file presence: stat error %v with inMemory=%v", statErr, tt.inMemory)
			}
			// A new store over the same directory sees the identity only
			// when it is on disk.
			s2, err := svidstore.New(svidstore.Config{Dir: dir, KeyInMemory: tt.inMemory})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s2.LoadIdentity()
			if tt.inMemory != errors.Is(err, svidstore.ErrNotFound) {
				t.Fatalf("reload after restart: %v (inMemory=%v)", err, tt.inMemory)
			}
			if err := s.DeleteIdentity(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.LoadIdentity(); !errors.Is(err, svidstore.ErrNotFound) {
				t.Fatalf("LoadIdentity after delete = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestFileModes(t *testing.T) {
	s, dir := newStore(t, false)
	if err := s.StoreIdentity(newIdentity(t, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreBundle(newIdentity(t, 2).Chain); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want os.FileMode
	}{
		{name: "data dir", path: dir, want: 0o700 | os.ModeDir},
		{name: "identity with key", path: filepath.Join(dir, svidstore.IdentityFile), want: 0o600},
		{name: "bundle", path: filepath.Join(dir, svidstore.BundleFile), want: 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tt.want {
				t.Fatalf("mode = %v, want %v", fi.Mode(), tt.want)
			}
		})
	}
}

func TestBundleRoundTrip(t *testing.T) {
	s, _ := newStore(t, false)
	if _, err := s.LoadBundle(); !errors.Is(err, svidstore.ErrNotFound) {
		t.Fatalf("LoadBundle on empty store = %v, want ErrNotFound", err)
	}
	certs := append(newIdentity(t, 1).Chain, newIdentity(t, 2).Chain...)
	if err := s.StoreBundle(certs); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadBundle()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Equal(certs[0]) || !got[1].Equal(certs[1]) {
		t.Fatalf("loaded %d certificates, want the 2 stored", len(got))
	}
	if err := s.StoreBundle(nil); err == nil {
		t.Fatal("storing an empty bundle succeeded")
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	a, b := newIdentity(t, 1), newIdentity(t, 2)
	tests := []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{name: "garbage", write: func(t *testing.T, path string) { writeFile(t, path, []byte("not pem")) }},
		{name: "key of another certificate", write: func(t *testing.T, path string) {
			withB, dirB := newStore(t, false)
			withA, dirA := newStore(t, false)
			if err := withB.StoreIdentity(b); err != nil {
				t.Fatal(err)
			}
			if err := withA.StoreIdentity(a); err != nil {
				t.Fatal(err)
			}
			certB := pemBlocks(t, filepath.Join(dirB, svidstore.IdentityFile), "CERTIFICATE")
			keyA := pemBlocks(t, filepath.Join(dirA, svidstore.IdentityFile), "PRIVATE KEY")
			writeFile(t, path, append(certB, keyA...))
		}},
		{name: "no key", write: func(t *testing.T, path string) {
			withA, dirA := newStore(t, false)
			if err := withA.StoreIdentity(a); err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, pemBlocks(t, filepath.Join(dirA, svidstore.IdentityFile), "CERTIFICATE"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := newStore(t, false)
			tt.write(t, filepath.Join(dir, svidstore.IdentityFile))
			if _, err := s.LoadIdentity(); err == nil || errors.Is(err, svidstore.ErrNotFound) {
				t.Fatalf("LoadIdentity = %v, want a parse error", err)
			}
		})
	}
}

// TestWritesAreAtomic loads the identity while another goroutine keeps
// replacing it: every load must see a complete, matching pair, and no
// temporary file may be left behind.
func TestWritesAreAtomic(t *testing.T) {
	s, dir := newStore(t, false)
	ids := []svidstore.Identity{newIdentity(t, 1), newIdentity(t, 2)}
	if err := s.StoreIdentity(ids[0]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range 50 {
			if err := s.StoreIdentity(ids[i%2]); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for loads := 0; ; loads++ {
		select {
		case <-done:
			wg.Wait()
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != svidstore.IdentityFile {
				t.Fatalf("directory holds %v, want only %s", entries, svidstore.IdentityFile)
			}
			return
		default:
		}
		if _, err := s.LoadIdentity(); err != nil {
			t.Fatalf("load %d during writes: %v", loads, err)
		}
	}
}
