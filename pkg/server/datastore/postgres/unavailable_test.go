package postgres_test

import (
	"errors"
	"testing"

	"github.com/svidkit/svidkit/internal/pgtest"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
)

// TestUnavailableWhileDatabaseDown: with PostgreSQL stopped under an open
// store, reads and writes fail with errors wrapping
// datastore.ErrUnavailable (the server answers Unavailable), an invalid
// write still fails as invalid, and after PostgreSQL's restart the same
// store (its pool reconnects) reads and writes again.
func TestUnavailableWhileDatabaseDown(t *testing.T) {
	db := pgtest.Start(t)
	s := openConfig(t, postgres.Config{ConnString: db.NewDatabase(t)})
	if _, err := s.CreateEntry(t.Context(), testEntry(1)); err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}

	db.Stop(t)
	calls := []struct {
		name string
		call func() error
	}{
		{"EntriesRevision", func() error { _, err := s.EntriesRevision(t.Context()); return err }},
		{"ListEntries", func() error { _, err := s.ListEntries(t.Context(), datastore.EntryFilter{}); return err }},
		{"GetAgent", func() error { _, err := s.GetAgent(t.Context(), "spiffe://example.org/spire/agent/x"); return err }},
		{"CreateEntry", func() error { _, err := s.CreateEntry(t.Context(), testEntry(2)); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, datastore.ErrUnavailable) {
				t.Errorf("%s with the database down = %v, want an error wrapping ErrUnavailable", c.name, err)
			}
		})
	}
	invalid := testEntry(3)
	invalid.ParentID = ""
	if _, err := s.CreateEntry(t.Context(), invalid); err == nil || errors.Is(err, datastore.ErrUnavailable) {
		t.Errorf("CreateEntry of an invalid entry with the database down = %v, want a validation error", err)
	}

	db.Restart(t)
	if _, err := s.CreateEntry(t.Context(), testEntry(2)); err != nil {
		t.Fatalf("CreateEntry after the restart: %v", err)
	}
	if es, err := s.ListEntries(t.Context(), datastore.EntryFilter{}); err != nil || len(es) != 2 {
		t.Fatalf("ListEntries after the restart = %d entries, %v; want 2", len(es), err)
	}
}
