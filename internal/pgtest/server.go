package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/prereq"
)

// Superuser is the database role tests connect as (trust authentication
// over 127.0.0.1).
const Superuser = "postgres"

// Server is one PostgreSQL cluster run by its own postmaster. Its zero
// value is ready for Main.
type Server struct {
	bin   string
	user  OSUser
	dir   string // temporary directory holding everything
	data  string // PGDATA
	port  int
	skip  error // why NewDatabase skips, when PostgreSQL is missing
	admin *pgxpool.Pool
	dbs   atomic.Int64
	// postmaster is the running postgres; exited receives its Wait result.
	postmaster *exec.Cmd
	exited     chan error
	tlsMu      sync.Mutex // serialises EnableTLS
}

// Main starts the server, runs the package's tests and stops the server,
// returning the exit code for os.Exit. Without PostgreSQL it runs the
// tests anyway (NewDatabase skips them) unless CI is set, where it fails.
func (s *Server) Main(m *testing.M) int {
	if err := s.start(); err != nil {
		if errors.Is(err, ErrNotInstalled) && !prereq.CI() {
			s.skip = err
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	code := m.Run()
	if err := s.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// start runs initdb in a new temporary directory and starts the
// postmaster on a free 127.0.0.1 port, waiting until it accepts
// connections.
func (s *Server) start() error {
	bin, err := BinDir()
	if err != nil {
		return err
	}
	u, err := DatabaseUser()
	if err != nil {
		return err
	}
	s.bin, s.user = bin, u
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return err
	}
	// The database user must reach its directories below this one.
	if err := os.Chmod(s.dir, 0o711); err != nil {
		return errors.Join(err, os.RemoveAll(s.dir))
	}
	if err := s.initdb(); err != nil {
		return errors.Join(err, os.RemoveAll(s.dir))
	}
	if err := s.startPostmaster(); err != nil {
		return errors.Join(err, s.logTail(), os.RemoveAll(s.dir))
	}
	return nil
}

// startPostmaster runs postgres as a child that the kernel stops
// (SIGQUIT, immediate shutdown) if the test binary dies first — a panic
// or a -timeout — so no postmaster outlives its tests, and waits until it
// accepts connections.
func (s *Server) startPostmaster() error {
	logFile, err := os.OpenFile(filepath.Join(s.dir, "log", "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := s.user.Command(filepath.Join(s.bin, "postgres"), "-D", s.data)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.postmaster = cmd
	s.exited = make(chan error, 1)
	go func() { s.exited <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s.admin, err = pgxpool.New(ctx, s.ConnString("postgres"))
	if err != nil {
		return errors.Join(err, s.stopPostmaster())
	}
	for {
		err := s.admin.Ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.exited:
			s.exited <- werr
			return errors.Join(fmt.Errorf("postgres exited at start: %v", werr), s.stopPostmaster())
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("postgres does not accept connections: %w", err), s.stopPostmaster())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stopPostmaster asks for a fast shutdown (SIGINT) and waits for it.
func (s *Server) stopPostmaster() error {
	if s.admin != nil {
		s.admin.Close()
	}
	// exited keeps the exit status, so that stopping a stopped server
	// (Stop, then the cleanup) is harmless.
	select {
	case err := <-s.exited:
		s.exited <- err
		return err
	default:
	}
	if err := s.postmaster.Process.Signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	select {
	case err := <-s.exited:
		s.exited <- err
		return nil
	case <-time.After(time.Minute):
		return errors.Join(errors.New("postgres did not stop within a minute of SIGINT; killed"), s.postmaster.Process.Kill())
	}
}

// initdb creates the cluster and its settings: trust authentication over
// 127.0.0.1 for the Superuser role, and durability off, since a test
// database need not survive a crash of the machine.
func (s *Server) initdb() error {
	s.data = filepath.Join(s.dir, "data")
	for _, d := range []string{"data", "log", "run"} {
		if err := s.user.Mkdir(filepath.Join(s.dir, d)); err != nil {
			return err
		}
	}
	if err := s.run("initdb", "-D", s.data, "-U", Superuser, "--auth-local=trust", "--auth-host=trust",
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return err
	}
	port, err := freeport.Port()
	if err != nil {
		return err
	}
	s.port = port
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
unix_socket_permissions = 0700
max_connections = 400
fsync = off
synchronous_commit = off
full_page_writes = off
`, port, filepath.Join(s.dir, "run"))
	f, err := os.OpenFile(filepath.Join(s.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	return errors.Join(err, f.Close())
}

// stop shuts the postmaster down and removes the directory.
func (s *Server) stop() error {
	return errors.Join(s.stopPostmaster(), os.RemoveAll(s.dir))
}

// run runs one of PostgreSQL's programs as the database user.
func (s *Server) run(prog string, args ...string) error {
	cmd := s.user.Command(filepath.Join(s.bin, prog), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", prog, strings.Join(args, " "), err, out.String())
	}
	return nil
}

// logTail returns the server log as an error, for a failed start.
func (s *Server) logTail() error {
	b, err := os.ReadFile(filepath.Join(s.dir, "log", "postgres.log"))
	if err != nil {
		return nil
	}
	return fmt.Errorf("postgres log:\n%s", b)
}

// ConnString returns a keyword/value connection string for database
// dbname as the Superuser over TCP without TLS.
func (s *Server) ConnString(dbname string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", s.port, Superuser, dbname)
}

// Port is the TCP port the server listens on at 127.0.0.1.
func (s *Server) Port() int { return s.port }

// NewDatabase creates an empty database for t, dropped when t ends, and
// returns its keyword/value connection string (ConnString). It skips t
// when PostgreSQL is not installed (never under CI: Main fails there).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := s.newDatabase(t)
	return s.ConnString(name)
}

// newDatabase creates a database and returns its name.
func (s *Server) newDatabase(t testing.TB) string {
	t.Helper()
	if s.skip != nil {
		t.Skip(s.skip.Error())
	}
	if s.admin == nil {
		t.Fatal("pgtest: server not started; call Main from TestMain")
	}
	name := fmt.Sprintf("test_%d", s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	return name
}
