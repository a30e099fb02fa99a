package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// TestSubscribeChangesOwnWrites: every kind of write the server's caches
// follow (entries, bundles, agents), made through the store, is announced
// to its subscribers once committed, so that a server on SQLite needs no
// polling to see its own writes.
func TestSubscribeChangesOwnWrites(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "datastore.sqlite3"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	changes, cancel := s.SubscribeChanges()
	defer cancel()
	ctx := t.Context()
	agent := &datastore.Agent{SPIFFEID: "spiffe://example.org/spire/agent/x/1", AttestationType: "x", SerialNumber: "1", ExpiresAt: time.Now().Add(time.Hour)}
	writes := []struct {
		name  string
		write func() error
	}{
		{"create entry", func() error {
			_, err := s.CreateEntry(ctx, &datastore.Entry{SPIFFEID: "spiffe://example.org/w", ParentID: "spiffe://example.org/agent",
				Selectors: selector.Set{{Type: "unix", Value: "uid:1"}}})
			return err
		}},
		{"set bundle", func() error {
			return s.SetBundle(ctx, &datastore.Bundle{TrustDomain: "td.test", Data: []byte(`{"keys":[]}`)})
		}},
		{"create agent", func() error { _, err := s.CreateAgent(ctx, agent); return err }},
		{"delete agent", func() error { return s.DeleteAgent(ctx, agent.SPIFFEID) }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			select {
			case <-changes:
				t.Fatal("announced before the write")
			default:
			}
			if err := w.write(); err != nil {
				t.Fatalf("write: %v", err)
			}
			select {
			case <-changes:
			default:
				t.Fatal("the committed write was not announced by the time it returned")
			}
		})
	}
}
