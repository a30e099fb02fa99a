package pgtest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnableTLS makes the server accept TLS connections with the given
// PEM-encoded certificate chain and key, reloading its configuration;
// connections without TLS keep working. Calling it again replaces the
// certificate.
func (s *Server) EnableTLS(t testing.TB, certPEM, keyPEM []byte) {
	t.Helper()
	if s.skip != nil {
		t.Skip(s.skip.Error())
	}
	s.tlsMu.Lock()
	defer s.tlsMu.Unlock()
	cert, key := filepath.Join(s.dir, "run", "server.crt"), filepath.Join(s.dir, "run", "server.key")
	if err := s.user.WriteFile(cert, certPEM); err != nil {
		t.Fatal(err)
	}
	if err := s.user.WriteFile(key, keyPEM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, q := range []string{
		"ALTER SYSTEM SET ssl_cert_file = '" + cert + "'",
		"ALTER SYSTEM SET ssl_key_file = '" + key + "'",
		"ALTER SYSTEM SET ssl = on",
		"SELECT pg_reload_conf()",
	} {
		if _, err := s.admin.Exec(ctx, q); err != nil {
			t.Fatalf("pgtest: enable TLS: %s: %v", q, err)
		}
	}
	// The postmaster reloads on its own time: wait until it accepts TLS.
	cs := fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=require", s.port, Superuser)
	for {
		conn, err := pgx.Connect(ctx, cs)
		if err == nil {
			conn.Close(ctx)
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pgtest: enable TLS: server does not accept TLS: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
