package legacydb_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/pgtest"
	"github.com/svidkit/svidkit/internal/prereq"
)

// postgresBinDir finds PostgreSQL's server binaries (pgtest.BinDir).
// Without PostgreSQL the test fails under CI (whose .ci/run installs it)
// and is skipped elsewhere.
func postgresBinDir(t *testing.T) string {
	t.Helper()
	dir, err := pgtest.BinDir()
	if err != nil {
		prereq.Missing(t, "%v", err)
	}
	return dir
}

// cluster is one PostgreSQL database cluster in a temporary directory,
// run by its own postmaster.
type cluster struct {
	bin     string
	user    osUser
	data    string // PGDATA
	sockDir string // unix_socket_directories, reachable only by user
	port    int
	log     *lineLog
	done    chan error
}

// newCluster runs initdb in dir (owned by u) and writes the TLS and
// client-authentication settings of the example: TLS with the files the
// database's helper writes into certDir, clients on 127.0.0.1 only over TLS
// with a certificate whose CN is their user name, and the owner (u) over
// the Unix socket by peer authentication, to create the roles.
func newCluster(t *testing.T, bin string, u osUser, dir, certDir string) *cluster {
	t.Helper()
	c := &cluster{
		bin:     bin,
		user:    u,
		data:    filepath.Join(dir, "pgdata"),
		sockDir: mkdirAs(t, u, filepath.Join(dir, "run")),
		port:    freeport.ForTest(t),
		log:     newLineLog(t, "postgres"),
	}
	c.run(t, "initdb", "-D", c.data, "-U", u.Name, "--auth-local=peer", "--auth-host=reject", "-E", "UTF8", "--locale=C", "--no-sync")
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
unix_socket_permissions = 0700
ssl = on
ssl_cert_file = '%s'
ssl_key_file = '%s'
ssl_ca_file = '%s'
log_connections = on
`, c.port, c.sockDir, filepath.Join(certDir, certFile), filepath.Join(certDir, keyFile), filepath.Join(certDir, bundleFile))
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(conf); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	hba := "local all " + u.Name + " peer\nhostssl all all 127.0.0.1/32 cert\n"
	writeFileAs(t, u, filepath.Join(c.data, "pg_hba.conf"), hba)
	return c
}

// run runs one of PostgreSQL's programs as the cluster's user.
func (c *cluster) run(t *testing.T, prog string, args ...string) string {
	t.Helper()
	cmd := c.user.Command(filepath.Join(c.bin, prog), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// start runs the postmaster and waits until it accepts connections. It is
// stopped with pg_ctl stop -m fast when the test ends.
func (c *cluster) start(t *testing.T) {
	t.Helper()
	cmd := c.user.Command(filepath.Join(c.bin, "postgres"), "-D", c.data)
	cmd.Stdout, cmd.Stderr = c.log, c.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	c.done = make(chan error, 1)
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		stop := c.user.Command(filepath.Join(c.bin, "pg_ctl"), "stop", "-D", c.data, "-m", "fast", "-w")
		if out, err := stop.CombinedOutput(); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
			_ = cmd.Process.Kill()
		}
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("postgres did not exit within 30s of pg_ctl stop")
		}
	})
	c.log.wait(t, 30*time.Second, "database system is ready to accept connections")
}

// psql runs SQL as the cluster's owner over the Unix socket.
func (c *cluster) psql(t *testing.T, sql string) string {
	t.Helper()
	return c.run(t, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", c.sockDir, "-p", strconv.Itoa(c.port), "-U", c.user.Name, "-d", "postgres", "-c", sql)
}

// postmasterPID returns the pid in postmaster.pid's first line.
func (c *cluster) postmasterPID(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}
