package pgtest

import (
	"errors"
	"testing"

	"github.com/svidkit/svidkit/internal/prereq"
)

// Start runs a PostgreSQL cluster of t's own, stopped and removed when t
// ends, for a test that stops and restarts it (see Stop and Restart)
// without disturbing the package's other tests. It skips t when
// PostgreSQL is not installed, except under CI, where it fails.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	if err := s.start(); err != nil {
		if errors.Is(err, ErrNotInstalled) {
			prereq.Missing(t, "%v", err)
		}
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// Stop shuts the postmaster down (fast shutdown: open connections are
// closed, clients see the database go away), keeping its data.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stopPostmaster(); err != nil {
		t.Fatalf("pgtest: stop: %v", err)
	}
}

// Restart starts the postmaster stopped by Stop again, on the same port
// with the same data, and waits until it accepts connections.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.startPostmaster(); err != nil {
		t.Fatalf("pgtest: restart: %v", errors.Join(err, s.logTail()))
	}
}
