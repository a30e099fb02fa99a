package postgres_test

import (
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
)

// TestTLSVerifyFull: the store connects with libpq's TLS settings
// (sslmode=verify-full, sslrootcert, sslcert, sslkey) in both connection
// string forms, to a server whose certificate (from internal/testca)
// names "localhost", over a connection PostgreSQL reports as TLS; a
// root that did not sign the server's certificate is refused.
func TestTLSVerifyFull(t *testing.T) {
	ca := testca.NewForTest(t, "db.test")
	server := ca.MintX509SVID(t, ca.TrustDomain().ID(), testca.SVIDOptions{DNSNames: []string{"localhost"}})
	certPEM, keyPEM, err := server.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pg.EnableTLS(t, certPEM, keyPEM)

	dir := t.TempDir()
	root := writePEM(t, filepath.Join(dir, "root.pem"), ca.Root().Raw)
	other := testca.NewForTest(t, "other.test")
	otherRoot := writePEM(t, filepath.Join(dir, "other.pem"), other.Root().Raw)
	client := other.NewX509SVID(t, other.TrustDomain().ID())
	clientCert, clientKey, err := client.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	for p, b := range map[string][]byte{certFile: clientCert, keyFile: clientKey} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	plain := pg.NewDatabase(t) // host=127.0.0.1 port=… user=… dbname=… sslmode=disable
	dbname := plain[strings.Index(plain, "dbname=")+len("dbname=") : strings.Index(plain, " sslmode=")]
	keyword := fmt.Sprintf("host=localhost port=%d user=postgres dbname=%s sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s",
		pg.Port(), dbname, root, certFile, keyFile)
	u := url.URL{Scheme: "postgresql", User: url.User("postgres"), Host: fmt.Sprintf("localhost:%d", pg.Port()), Path: "/" + dbname,
		RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {root}}.Encode()}
	for name, cs := range map[string]string{"keyword/value": keyword, "URL": u.String()} {
		t.Run(name, func(t *testing.T) {
			s := openConfig(t, postgres.Config{ConnString: cs})
			if _, err := s.EntriesRevision(t.Context()); err != nil {
				t.Fatalf("EntriesRevision over TLS: %v", err)
			}
			conn, err := pgx.Connect(t.Context(), cs)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(t.Context())
			var ssl bool
			if err := conn.QueryRow(t.Context(), `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl); err != nil || !ssl {
				t.Fatalf("pg_stat_ssl.ssl = %v, %v; want a TLS connection", ssl, err)
			}
		})
	}
	t.Run("wrong root", func(t *testing.T) {
		cs := strings.Replace(keyword, root, otherRoot, 1)
		_, err := postgres.Open(t.Context(), postgres.Config{ConnString: cs})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Open trusting another root: error %v, want a certificate verification failure", err)
		}
	})
}

// writePEM writes one DER certificate as PEM and returns the path.
func writePEM(t *testing.T, path string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
