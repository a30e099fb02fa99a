package legacydb_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// serverName is the database's DNS name: the first DNS name of its
// registration entry, which clients verify (sslmode=verify-full).
const serverName = "db.local"

// client is how a database client connects: as a database user, with the
// client certificate in certDir ("" for none), trusting the bundle file.
type client struct {
	port       int
	user       string
	certDir    string
	bundlePath string
}

// peer records the certificate the server presented on a connection.
type peer struct {
	mu   sync.Mutex
	cert *x509.Certificate
}

func (p *peer) get() *x509.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cert
}

// connect opens a connection with libpq's settings (sslmode=verify-full,
// sslrootcert, sslcert, sslkey) against 127.0.0.1 while verifying the name
// db.local, the same as psql "host=db.local hostaddr=127.0.0.1 ...".
func (c client) connect(ctx context.Context) (*pgx.Conn, *peer, error) {
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=verify-full sslrootcert=%s connect_timeout=10",
		c.port, c.user, c.bundlePath)
	if c.certDir != "" {
		// Read certificate and key from one resolved ..data directory, so
		// a rotation between the two reads cannot pair a new certificate
		// with an old key.
		data, err := filepath.EvalSymlinks(filepath.Join(c.certDir, "..data"))
		if err != nil {
			return nil, nil, fmt.Errorf("client files: %w", err)
		}
		dsn += fmt.Sprintf(" sslcert=%s sslkey=%s", filepath.Join(data, certFile), filepath.Join(data, keyFile))
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, err
	}
	p := &peer{}
	cfg.TLSConfig.ServerName = serverName
	cfg.TLSConfig.VerifyConnection = func(cs tls.ConnectionState) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.cert = cs.PeerCertificates[0]
		return nil
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return conn, p, nil
}

// sslInfo is this session's row of pg_stat_ssl plus its backend pid.
type sslInfo struct {
	backendPID   int
	version      string
	clientDN     string
	clientSerial string // decimal, as PostgreSQL shows it
}

const sslInfoQuery = `SELECT pid, version, client_dn, client_serial::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()`

func querySSL(ctx context.Context, conn *pgx.Conn) (sslInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var s sslInfo
	err := conn.QueryRow(ctx, sslInfoQuery).Scan(&s.backendPID, &s.version, &s.clientDN, &s.clientSerial)
	return s, err
}
