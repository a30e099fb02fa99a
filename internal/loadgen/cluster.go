package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// serverStartTimeout bounds a server's start until it reports ready.
const serverStartTimeout = time.Minute

// ClusterConfig describes servers for the load generator to run as
// processes of the svidkit-server binary.
type ClusterConfig struct {
	// Binary is the svidkit-server executable. Required.
	Binary string
	// Dir holds the servers' state, configuration and logs. Required.
	Dir string
	// TrustDomain of the servers. Required.
	TrustDomain spiffeid.TrustDomain
	// Servers is how many servers to run; more than one needs Postgres.
	Servers int
	// Postgres is the connection string of the servers' shared database;
	// empty runs one server on SQLite.
	Postgres string
	// ProfilingPort, when not 0, has server i serve Go's pprof endpoints
	// on 127.0.0.1:ProfilingPort+i (profiling_enabled, profiling_port).
	ProfilingPort int
}

// Cluster is running servers, the Targets of a load run.
type Cluster struct {
	Targets []Target
	procs   []*server
}

// server is a running server process; exited receives its Wait result.
type server struct {
	cmd    *exec.Cmd
	exited chan error
}

// StartCluster runs cfg.Servers servers and returns once each reports
// ready on its health listener. Each has its own CA keys (in memory) and
// admin socket, join_token attestation without the attestation rate limit
// (every simulated agent connects from one address), CA and agent SVIDs
// of a day and four hours, and its metrics on the health listener.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Servers > 1 && cfg.Postgres == "" {
		return nil, errors.New("loadgen: several servers need a PostgreSQL database")
	}
	c := &Cluster{}
	for i := range cfg.Servers {
		t, cmd, err := startServer(ctx, cfg, i)
		if err != nil {
			return nil, errors.Join(err, c.Stop())
		}
		c.Targets = append(c.Targets, t)
		c.procs = append(c.procs, cmd)
	}
	return c, nil
}

// startServer writes server i's configuration and starts it.
func startServer(ctx context.Context, cfg ClusterConfig, i int) (Target, *server, error) {
	name := fmt.Sprintf("server-%d", i)
	dir := filepath.Join(cfg.Dir, name)
	// The admin socket's directory must be private and its path short.
	sock, err := os.MkdirTemp("", "lgs")
	if err != nil {
		return Target{}, nil, fmt.Errorf("loadgen: %s: %w", name, err)
	}
	port, err := freeport.Port()
	if err != nil {
		return Target{}, nil, fmt.Errorf("loadgen: %s: %w", name, err)
	}
	healthPort, err := freeport.Port()
	if err != nil {
		return Target{}, nil, fmt.Errorf("loadgen: %s: %w", name, err)
	}
	sc := config.NewServer()
	sc.BindAddress, sc.BindPort = "127.0.0.1", port
	sc.SocketPath = filepath.Join(sock, "api.sock")
	sc.TrustDomain = cfg.TrustDomain
	sc.DataDir = dir
	sc.LogLevel = "WARN"
	sc.CATTL, sc.AgentTTL = 24*time.Hour, 4*time.Hour
	sc.DefaultX509SVIDTTL = time.Hour
	sc.RateLimitAttestation = false
	sc.KeyManager = config.KeyManager{Name: "memory"}
	sc.NodeAttestors = []string{config.NodeAttestorJoinToken}
	sc.DataStore = config.DataStore{DatabaseType: config.DatabaseSQLite, ConnectionString: filepath.Join(dir, "datastore.sqlite3")}
	if cfg.Postgres != "" {
		sc.DataStore = config.DataStore{DatabaseType: config.DatabasePostgres, ConnectionString: cfg.Postgres}
	}
	sc.Health = config.Health{ListenerEnabled: true, BindAddress: "127.0.0.1", BindPort: healthPort, LivePath: "/live", ReadyPath: "/ready"}
	if cfg.ProfilingPort != 0 {
		sc.Profiling = config.Profiling{Enabled: true, Port: cfg.ProfilingPort + i}
	}
	hcl, err := testenv.ServerHCL(sc)
	if err != nil {
		return Target{}, nil, fmt.Errorf("loadgen: %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Target{}, nil, fmt.Errorf("loadgen: %s: %w", name, err)
	}
	confPath := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(confPath, []byte(hcl), 0o600); err != nil {
		return Target{}, nil, fmt.Errorf("loadgen: %s: %w", name, err)
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Target{}, nil, fmt.Errorf("loadgen: %s: %w", name, err)
	}
	defer logFile.Close()
	cmd := exec.Command(cfg.Binary, "run", "-config", confPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The kernel stops the server if the load generator dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return Target{}, nil, fmt.Errorf("loadgen: start %s: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	base := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(healthPort))
	if err := waitReady(ctx, base+"/ready", exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return Target{}, nil, fmt.Errorf("loadgen: %s (log %s): %w", name, logFile.Name(), err)
	}
	return Target{
		Name:        name,
		Address:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		AdminSocket: sc.SocketPath,
		MetricsURL:  base + "/metrics",
		PID:         cmd.Process.Pid,
	}, &server{cmd: cmd, exited: exited}, nil
}

// waitReady polls a readiness URL until it answers 200, failing when the
// server exits first.
func waitReady(ctx context.Context, url string, exited chan error) error {
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("exited at start: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s", serverStartTimeout)
		case <-tick.C:
		}
	}
}

// Stop stops the servers (SIGTERM, then waits).
func (c *Cluster) Stop() error {
	var errs []error
	for _, p := range c.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-p.exited; err != nil {
			errs = append(errs, fmt.Errorf("server pid %d: %w", p.cmd.Process.Pid, err))
		}
	}
	for _, t := range c.Targets {
		_ = os.RemoveAll(filepath.Dir(t.AdminSocket))
	}
	return errors.Join(errs...)
}
