package e2e_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// failoverName is the one name the failover tests' agents know their
// servers by; the test's DNS server resolves it to every server address.
const failoverName = "servers.e2e.test"

// serverProc is an svidkit-server process of a failoverCluster, which
// the test may kill -9 and start again with the same configuration.
type serverProc struct {
	name    string
	binary  string
	layout  *testenv.Layout
	cfg     *config.Server
	metrics string // its /metrics URL

	mu     sync.Mutex
	cmd    *exec.Cmd
	admin  *testenv.Admin
	starts int
}

// start runs the server and waits until its admin API answers.
func (s *serverProc) start(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts++
	s.cmd, s.admin = startServerProcessWith(tb, s.layout, s.binary, fmt.Sprintf("%s-%d", s.name, s.starts), s.cfg)
}

// kill sends SIGKILL, as a crashed node or an OOM kill would end it, and
// reaps the process.
func (s *serverProc) kill(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatalf("kill %s: %v", s.name, err)
	}
	_ = s.cmd.Wait() // "signal: killed"
}

// Admin is the current process's admin API client.
func (s *serverProc) Admin() *testenv.Admin {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admin
}

// metric reads one sample of the server's metrics ("name" or
// `name{label="value"}`); -1 when the server does not answer.
func (s *serverProc) metric(name string) float64 { return agentMetric(s.metrics, name) }

// Server metrics the failover tests read.
const (
	metricX509Signed = `svidkit_server_svids_signed_total{kind="x509"}`
	metricSyncsHeld  = "svidkit_server_entry_syncs_held"
)

// failoverCluster is two svidkit-server processes on one PostgreSQL
// database, listening on the same port of 127.0.0.2 and 127.0.0.3, and
// agent processes that know them only as failoverName, resolved by a DNS
// server of the test.
type failoverCluster struct {
	servers  [2]*serverProc
	agents   []*agentProc
	port     int
	dns      *dnsServer
	agentBin string
	layout   *testenv.Layout // the agents' state, sockets and bootstrap bundle
}

// agentProc is one agent process of a failoverCluster and the test's
// Workload API client of it.
type agentProc struct {
	name     string
	nodePath string // its SPIFFE ID's path, the parent of its entries
	cmd      *exec.Cmd
	monitor  *svidMonitor
}

// serverAddrs are the loopback addresses the two servers listen on.
var serverAddrs = [2]netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}

// startFailoverCluster builds the binaries and starts the servers on the
// database at connString, then nAgents agents, each attested with a join
// token and watched by an svidMonitor.
func startFailoverCluster(tb testing.TB, connString string, nAgents int) *failoverCluster {
	tb.Helper()
	bin := buildBinaries(tb, "server", "agent")
	td := spiffeid.RequireTrustDomainFromString(trustDomain)
	c := &failoverCluster{port: testenv.FreePort(tb), agentBin: filepath.Join(bin, "svidkit-agent")}
	c.dns = startDNSServer(tb, failoverName, serverAddrs[:]...)
	for i, addr := range serverAddrs {
		l := testenv.NewLayout(tb, td)
		cfg := l.ServerConfig(c.port)
		cfg.BindAddress = addr.String()
		cfg.DataStore = config.DataStore{DatabaseType: config.DatabasePostgres, ConnectionString: connString}
		cfg.Health = config.Health{ListenerEnabled: true, BindAddress: "127.0.0.1", BindPort: testenv.FreePort(tb), LivePath: "/live", ReadyPath: "/ready"}
		s := &serverProc{name: "server-" + string(rune('a'+i)), binary: filepath.Join(bin, "svidkit-server"), layout: l, cfg: cfg,
			metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", cfg.Health.BindPort)}
		s.start(tb)
		c.servers[i] = s
	}
	c.layout = c.servers[0].layout
	// Agents bootstrap from a bundle that holds both servers' CAs: their
	// first call may reach either.
	var bundle []byte
	pollUntil(tb, 30*time.Second, 50*time.Millisecond, "the shared bundle to hold both servers' authorities", func() bool {
		bundle = c.servers[0].Admin().BundlePEM(tb)
		return strings.Count(string(bundle), "BEGIN CERTIFICATE") >= 2
	})
	if err := os.WriteFile(c.layout.BundlePath(), bundle, 0o644); err != nil {
		tb.Fatal(err)
	}
	for i := range nAgents {
		c.agents = append(c.agents, c.startAgent(tb, fmt.Sprintf("agent-%d", i), fmt.Sprintf("/node-%d", i)))
	}
	return c
}

// baseID is the SPIFFE ID of the entry every agent's workload has from
// the start, so that it never asks an agent that has nothing for it.
func baseID(nodePath string) string { return "spiffe://" + trustDomain + "/base" + nodePath }

// startAgent creates the agent's base entry, runs an agent process with
// server_address naming the test's DNS server and failoverName, waits
// until it is ready, and watches its Workload API until the base entry's
// SVID arrives.
func (c *failoverCluster) startAgent(tb testing.TB, name, nodePath string) *agentProc {
	tb.Helper()
	a := &agentProc{name: name, nodePath: nodePath}
	c.servers[0].Admin().CreateEntry(tb, workloadEntryFor(a, "/base"+nodePath, failoverTTL))
	cfg, err := c.layout.AgentConfig("127.0.0.1:1", name, c.servers[0].Admin().JoinToken(tb, nodePath))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ServerAddress = "dns://" + c.dns.Addr() + "/" + failoverName
	cfg.ServerPort = c.port
	cfg.Health = config.Health{ListenerEnabled: true, BindAddress: "127.0.0.1", BindPort: testenv.FreePort(tb), LivePath: "/live", ReadyPath: "/ready"}
	conf, err := testenv.AgentHCL(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		tb.Fatal(err)
	}
	cmd := startProcess(tb, c.layout.Dir, c.agentBin, name, conf)
	readyURL := "http://127.0.0.1:" + strconv.Itoa(cfg.Health.BindPort) + "/ready"
	pollUntil(tb, 30*time.Second, 50*time.Millisecond, name+" to be ready", func() bool {
		_, err := os.Stat(cfg.SocketPath)
		return err == nil && httpOK(readyURL)
	})
	a.cmd = cmd
	a.monitor = watchSVIDs(tb, name, "unix://"+cfg.SocketPath)
	a.monitor.waitSeen(tb, 30*time.Second, baseID(nodePath))
	return a
}

// svidMonitor is a workload of one agent: a go-spiffe Workload API client
// that watches its X.509 context and records every SPIFFE ID it was
// served, and every problem a workload would suffer: a watch error, a
// failed fetch, an SVID served or still held past its expiry.
type svidMonitor struct {
	name   string
	client *workloadapi.Client

	mu   sync.Mutex
	seen map[string]time.Time // SPIFFE ID -> when first served
	// renewed is when each SPIFFE ID was last served a new SVID.
	renewed  map[string]svidArrival
	latest   *workloadapi.X509Context
	problems []string
	closed   bool
	changed  chan struct{} // size one: a new X.509 context arrived
}

// watchSVIDs starts a monitor of the agent at addr; it stops when the test
// ends.
func watchSVIDs(tb testing.TB, name, addr string) *svidMonitor {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(addr))
	if err != nil {
		cancel()
		tb.Fatalf("workload of %s: %v", name, err)
	}
	m := &svidMonitor{name: name, client: client, seen: map[string]time.Time{}, renewed: map[string]svidArrival{}, changed: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() { defer close(done); _ = client.WatchX509Context(ctx, m) }()
	tb.Cleanup(func() {
		m.mu.Lock()
		m.closed = true // what the cancellation causes is not a problem
		m.mu.Unlock()
		cancel()
		<-done
		client.Close()
	})
	return m
}

// OnX509ContextUpdate records the context and checks its SVIDs' lifetimes.
func (m *svidMonitor) OnX509ContextUpdate(x *workloadapi.X509Context) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range x.SVIDs {
		if !now.Before(s.Certificates[0].NotAfter) {
			m.problem("served SVID %s expired at %s", s.ID, s.Certificates[0].NotAfter.Format(time.RFC3339Nano))
		}
		id := s.ID.String()
		if _, ok := m.seen[id]; !ok {
			m.seen[id] = now
		}
		if serial := s.Certificates[0].SerialNumber.String(); m.renewed[id].serial != serial {
			m.renewed[id] = svidArrival{serial: serial, at: now}
		}
	}
	m.latest = x
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// OnX509ContextWatchError records the error: a workload must never see one.
func (m *svidMonitor) OnX509ContextWatchError(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.problem("watch error: %v", err)
}

// problem records one problem; m.mu is held.
func (m *svidMonitor) problem(format string, args ...any) {
	if !m.closed {
		m.problems = append(m.problems, time.Now().Format("15:04:05.000")+" "+m.name+": "+fmt.Sprintf(format, args...))
	}
}

// check fetches the X.509-SVIDs once, as a workload starting now would,
// and checks that no SVID the watch holds has expired: the agent must
// rotate each before its end.
func (m *svidMonitor) check() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, fetchErr := m.client.FetchX509SVIDs(ctx)
	cancel()
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if fetchErr != nil {
		m.problem("fetch: %v", fetchErr)
	}
	if m.latest == nil {
		return
	}
	for _, s := range m.latest.SVIDs {
		if !now.Before(s.Certificates[0].NotAfter) {
			m.problem("SVID %s still held %s after its expiry (not rotated)", s.ID, now.Sub(s.Certificates[0].NotAfter))
		}
	}
}

// waitSeen waits until the workload was served the SPIFFE ID id, and
// returns when it first was.
func (m *svidMonitor) waitSeen(tb testing.TB, timeout time.Duration, id string) time.Time {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		m.mu.Lock()
		at, ok := m.seen[id]
		m.mu.Unlock()
		if ok {
			return at
		}
		select {
		case <-m.changed:
		case <-deadline:
			tb.Fatalf("%s: timed out after %v waiting for the SVID of %s", m.name, timeout, id)
		}
	}
}

// svidArrival is when an SVID, known by its serial number, was first
// served.
type svidArrival struct {
	serial string
	at     time.Time
}

// waitRenewedAfter waits until the workload was served a new SVID for id
// after t: the agent rotated it.
func (m *svidMonitor) waitRenewedAfter(tb testing.TB, timeout time.Duration, id string, t time.Time) {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		m.mu.Lock()
		at := m.renewed[id].at
		m.mu.Unlock()
		if at.After(t) {
			return
		}
		select {
		case <-m.changed:
		case <-deadline:
			tb.Fatalf("%s: timed out after %v waiting for the SVID of %s to rotate", m.name, timeout, id)
		}
	}
}

// Problems returns what went wrong for the workload so far.
func (m *svidMonitor) Problems() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.problems...)
}

// checkWorkloads runs every monitor's check every interval until the
// returned function is called, which stops the checks and waits.
func checkWorkloads(monitors []*svidMonitor, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, m := range monitors {
				m.check()
			}
		}
	}()
	return func() { cancel(); <-done }
}
