package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
)

// announceTimeout bounds the wait for a change announcement; announcements
// arrive within milliseconds, the margin is for a loaded CI machine.
const announceTimeout = 10 * time.Second

// TestSubscribeChangesAcrossStores: a write committed through one store (one
// server's pool) is announced to a subscriber of another store on the same
// database, for entries, bundles and agents.
func TestSubscribeChangesAcrossStores(t *testing.T) {
	t.Parallel()
	cs := pg.NewDatabase(t)
	writer := openConfig(t, postgres.Config{ConnString: cs})
	reader := openConfig(t, postgres.Config{ConnString: cs})
	changes, cancel := reader.SubscribeChanges()
	defer cancel()
	// The first announcement says the listener listens.
	waitAnnounced(t, changes, "the listener to start")

	writes := []struct {
		name  string
		write func(n int) error
	}{
		{"create entry", func(n int) error {
			_, err := writer.CreateEntry(t.Context(), testEntry(n))
			return err
		}},
		{"set bundle", func(n int) error {
			return writer.SetBundle(t.Context(), &datastore.Bundle{TrustDomain: fmt.Sprintf("td%d.test", n), Data: []byte(`{"keys":[]}`)})
		}},
		{"create agent", func(int) error {
			_, err := writer.CreateAgent(t.Context(), testAgent())
			return err
		}},
		{"ban agent", func(int) error {
			a := testAgent()
			a.Banned = true
			_, err := writer.UpdateAgent(t.Context(), a)
			return err
		}},
		{"delete agent", func(int) error { return writer.DeleteAgent(t.Context(), testAgent().SPIFFEID) }},
	}
	for i, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			if err := w.write(i); err != nil {
				t.Fatalf("write: %v", err)
			}
			waitAnnounced(t, changes, "the write through the other store")
		})
	}
}

// TestSubscribeChangesReconnects: when PostgreSQL drops the listener's
// connection (as a restart does; here pg_terminate_backend, the fault
// injected), the listener reconnects, announces once, and announces
// later writes again.
func TestSubscribeChangesReconnects(t *testing.T) {
	t.Parallel()
	cs := pg.NewDatabase(t)
	s := openConfig(t, postgres.Config{ConnString: cs})
	changes, cancel := s.SubscribeChanges()
	defer cancel()
	waitAnnounced(t, changes, "the listener to start")

	conn, err := pgx.Connect(t.Context(), cs)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(t.Context())
	var killed int
	err = conn.QueryRow(t.Context(), `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()) AS t`).Scan(&killed)
	if err != nil {
		t.Fatalf("terminate the listener's backend: %v", err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listening backends, want 1", killed)
	}
	waitAnnounced(t, changes, "the listener to reconnect")

	if _, err := s.CreateEntry(t.Context(), testEntry(0)); err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}
	waitAnnounced(t, changes, "a write after the reconnection")
}

func testEntry(n int) *datastore.Entry {
	return &datastore.Entry{
		SPIFFEID:  fmt.Sprintf("spiffe://example.org/w%d", n),
		ParentID:  "spiffe://example.org/agent",
		Selectors: selector.Set{{Type: "unix", Value: "uid:1"}},
	}
}

func testAgent() *datastore.Agent {
	return &datastore.Agent{SPIFFEID: "spiffe://example.org/spire/agent/x/1", AttestationType: "x", SerialNumber: "1", ExpiresAt: time.Now().Add(time.Hour)}
}

func waitAnnounced(t *testing.T, changes <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changes:
	case <-time.After(announceTimeout):
		t.Fatalf("no change announced within %v: waited for %s", announceTimeout, what)
	}
}
