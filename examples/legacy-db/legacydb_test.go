package legacydb_test

import (
	"context"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testenv"
)

const (
	// dbTTL is the database SVID's lifetime: the agent rotates it at half
	// life, every few seconds, so the test sees several rotations.
	dbTTL = 20 * time.Second
	// clientTTL is the clients' SVID lifetime; they rotate too.
	clientTTL = 30 * time.Second
	// rotations is how many server-certificate rotations the long-lived
	// connection must survive.
	rotations = 3
	// queryEvery is how often the long-lived connection runs a query.
	queryEvery = 200 * time.Millisecond
)

// TestPostgreSQLWithSVIDs runs the example: svidkit server and agent,
// PostgreSQL with the database's SVID written by svidkit-helper (one-shot
// before the postmaster starts, then a daemon that SIGHUPs the postmaster
// after each rotation), and clients authenticated by the CN of their SVIDs.
func TestPostgreSQLWithSVIDs(t *testing.T) {
	began := time.Now()
	pgBin := postgresBinDir(t)
	dbUser, me := databaseUser(t), currentUser(t)
	t.Logf("PostgreSQL from %s, running as %s (uid %d); clients run as %s (uid %d)", pgBin, dbUser.Name, dbUser.UID, me.Name, me.UID)

	base, err := os.MkdirTemp("", "legacydb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// The database user must reach its own directories below base and run
	// the helper binary in it.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	helperBin := buildHelper(t, base)
	step := func(what string) { t.Logf("%6.2fs %s", time.Since(began).Seconds(), what) }
	step("built svidkit-helper")

	env := testenv.Start(t, testenv.Options{TrustDomain: "legacy-db.test"})
	step("server and agent up")
	// The first DNS name becomes the certificate's subject CN: the server
	// name clients verify for the database, the database user name for
	// clients (pg_hba's cert method maps the CN to the user).
	env.Server.CreateEntry(t, testenv.Entry{Path: "/db", Selectors: []string{testenv.UID(dbUser.UID)}, DNSNames: []string{serverName}, Hint: "db", X509TTL: dbTTL})
	env.Server.CreateEntry(t, testenv.Entry{Path: "/app", Selectors: []string{testenv.UID(me.UID)}, DNSNames: []string{"app"}, Hint: "app", X509TTL: clientTTL})
	env.Server.CreateEntry(t, testenv.Entry{Path: "/mallory", Selectors: []string{testenv.UID(me.UID)}, DNSNames: []string{"mallory"}, Hint: "mallory", X509TTL: clientTTL})

	// Database side, all as the database user.
	dbDir := mkdirAs(t, dbUser, filepath.Join(base, "db"))
	dbCerts := mkdirAs(t, dbUser, filepath.Join(dbDir, "certs"))
	initConf := writeFileAs(t, dbUser, filepath.Join(dbDir, "helper-init.conf"),
		helperConf{agentAddress: env.Agent.Address(), certDir: dbCerts, hint: "db"}.String())
	runOneShot(t, dbUser, helperBin, initConf, newLineLog(t, "db helper (one-shot)"))
	checkKeyFile(t, dbCerts, dbUser)
	step("one-shot helper wrote the database's files")
	first, err := readCert(dbCerts)
	if err != nil {
		t.Fatal(err)
	}
	if first.Subject.CommonName != serverName {
		t.Fatalf("database certificate CN %q, want %q", first.Subject.CommonName, serverName)
	}

	pg := newCluster(t, pgBin, dbUser, dbDir, dbCerts)
	step("initdb done")
	pg.start(t)
	step("postgres accepts connections")
	pg.psql(t, "CREATE ROLE app LOGIN; CREATE ROLE mallory LOGIN;")
	postmaster := pg.postmasterPID(t)

	dbHelperLog := newLineLog(t, "db helper")
	sidecarConf := writeFileAs(t, dbUser, filepath.Join(dbDir, "helper.conf"), helperConf{
		agentAddress: env.Agent.Address(), certDir: dbCerts, hint: "db", daemon: true,
		pidFile: filepath.Join(pg.data, "postmaster.pid"),
	}.String())
	startDaemon(t, dbUser, helperBin, sidecarConf, dbHelperLog)

	// Client side, as the test's user: a daemon helper for app's files and
	// a one-shot one for mallory's.
	appCerts := mkdirAs(t, me, filepath.Join(base, "app"))
	appLog := newLineLog(t, "app helper")
	startDaemon(t, me, helperBin, writeFileAs(t, me, filepath.Join(base, "app.conf"),
		helperConf{agentAddress: env.Agent.Address(), certDir: appCerts, hint: "app", daemon: true}.String()), appLog)
	appLog.wait(t, 30*time.Second, `msg="X.509-SVID written"`)
	malloryCerts := mkdirAs(t, me, filepath.Join(base, "mallory"))
	runOneShot(t, me, helperBin, writeFileAs(t, me, filepath.Join(base, "mallory.conf"),
		helperConf{agentAddress: env.Agent.Address(), certDir: malloryCerts, hint: "mallory"}.String()), newLineLog(t, "mallory helper"))

	step("helpers running, client files written")
	bundle := filepath.Join(appCerts, bundleFile)
	app := client{port: pg.port, user: "app", certDir: appCerts, bundlePath: bundle}

	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name    string
			c       client
			wantErr string
		}{
			{"no client certificate", client{port: pg.port, user: "app", bundlePath: bundle}, "connection requires a valid client certificate"},
			{"certificate of another user (CN mallory as app)", client{port: pg.port, user: "app", certDir: malloryCerts, bundlePath: bundle}, `certificate authentication failed for user "app"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				conn, _, err := tt.c.connect(ctx(t))
				if err == nil {
					conn.Close(context.Background())
					t.Fatal("connected, want refused")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q, want it to contain %q", err, tt.wantErr)
				}
			})
		}
	})

	t.Run("accepted", func(t *testing.T) {
		tests := []struct {
			name string
			c    client
		}{
			{"app as app", app},
			{"mallory as mallory", client{port: pg.port, user: "mallory", certDir: malloryCerts, bundlePath: bundle}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				conn, p, err := tt.c.connect(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(context.Background())
				info, err := querySSL(ctx(t), conn)
				if err != nil {
					t.Fatal(err)
				}
				if want := "CN=" + tt.c.user; !strings.Contains(info.clientDN, want) {
					t.Fatalf("pg_stat_ssl client_dn %q, want it to contain %q", info.clientDN, want)
				}
				if p.get().Subject.CommonName != serverName {
					t.Fatalf("server certificate CN %q, want %q", p.get().Subject.CommonName, serverName)
				}
			})
		}
	})

	t.Run("rotation under a live connection, reloaded without restart", func(t *testing.T) {
		live, livePeer, err := app.connect(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close(context.Background())
		liveInfo, err := querySSL(ctx(t), live)
		if err != nil {
			t.Fatal(err)
		}
		q := startQuerying(live, liveInfo.backendPID)
		defer q.stop()

		serial := livePeer.get().SerialNumber
		for i := 1; i <= rotations; i++ {
			ln, written := nextWrite(t, dbHelperLog, serial)
			onDisk, err := readCert(dbCerts)
			if err != nil {
				t.Fatal(err)
			}
			if onDisk.SerialNumber.Cmp(written) != 0 {
				t.Fatalf("rotation %d: helper logged serial %x, %s holds %x", i, written, certFile, onDisk.SerialNumber)
			}
			served := waitServed(t, app, written, 10*time.Second)
			if pid := pg.postmasterPID(t); pid != postmaster {
				t.Fatalf("rotation %d: postmaster pid %d, want %d (PostgreSQL was restarted, not reloaded)", i, pid, postmaster)
			}
			t.Logf("rotation %d: serial %x → %x, served by new connections %v after the helper wrote it; live connection: %d queries, none failed",
				i, serial, written, served.Sub(ln.at).Round(time.Millisecond), q.count())
			serial = written
		}
		q.stop()
		if err := q.err(); err != nil {
			t.Fatalf("long-lived connection failed: %v", err)
		}
		if n := q.count(); n == 0 {
			t.Fatal("long-lived connection ran no queries")
		}
		if got := pg.log.count("received SIGHUP, reloading configuration files"); got < rotations {
			t.Fatalf("PostgreSQL logged %d reloads, want at least %d", got, rotations)
		}
		t.Logf("long-lived connection (backend pid %d) survived %d server-certificate rotations with %d queries",
			liveInfo.backendPID, rotations, q.count())
	})
	t.Logf("test ran %v", time.Since(began).Round(time.Millisecond))
}

// nextWrite waits for the database helper's next write of a serial other
// than current. A write logged before the long-lived connection was opened
// (a rotation while PostgreSQL was starting, on a slow machine) may already
// be the one it was served, and is skipped.
func nextWrite(t *testing.T, log *lineLog, current *big.Int) (line, *big.Int) {
	t.Helper()
	deadline := time.Now().Add(2 * dbTTL)
	for {
		ln := log.wait(t, time.Until(deadline), `msg="X.509-SVID written"`, "changed=true")
		m := writtenSerial.FindStringSubmatch(ln.text)
		if m == nil {
			t.Fatalf("no serial in %q", ln.text)
		}
		written, ok := new(big.Int).SetString(m[1], 16)
		if !ok {
			t.Fatalf("bad serial in %q", ln.text)
		}
		if written.Cmp(current) != 0 {
			return ln, written
		}
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitServed opens new connections until one is served the certificate
// with serial, and returns when that happened.
func waitServed(t *testing.T, c client, serial *big.Int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		conn, p, err := c.connect(ctx(t))
		if err != nil {
			last = err.Error() // the client's own files may be mid-rotation
			continue
		}
		at := time.Now()
		conn.Close(context.Background())
		got := p.get().SerialNumber
		if got.Cmp(serial) == 0 {
			return at
		}
		last = "served serial " + got.Text(16)
	}
	t.Fatalf("no new connection was served serial %x within %s; last: %s", serial, timeout, last)
	return time.Time{}
}
