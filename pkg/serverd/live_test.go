package serverd

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// failingSigner is a CA whose signing fails, which a real CA does not do
// on demand.
type failingSigner struct{}

func (failingSigner) SignJWTSVID(context.Context, ca.JWTSVIDParams) (string, error) {
	return "", errors.New("signer wedged")
}

func TestLiveness(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "datastore.sqlite3"), log)
	if err != nil {
		t.Fatal(err)
	}
	authority, err := ca.New(ctx, ca.Config{TrustDomain: td, Keys: ca.NewMemoryKeyStore(), Bundles: store, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	other, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "empty.sqlite3"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	tests := []struct {
		name   string
		store  bundleReader
		signer jwtSigner
		want   bool
	}{
		{"datastore and CA work", store, authority, true},
		{"bundle missing from the datastore", other, authority, false},
		{"CA cannot sign", store, failingSigner{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := liveness(tt.store, tt.signer, td, log)(); got != tt.want {
				t.Fatalf("live = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("datastore closed", func(t *testing.T) {
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		if liveness(store, authority, td, log)() {
			t.Fatal("live with a closed datastore")
		}
	})
}

var _ bundleReader = datastore.Store(nil)
