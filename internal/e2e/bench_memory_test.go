package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/internal/gobuild"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// memorySettle is how long the daemons run untouched before a reading, so
// start-up garbage is collected and the reading is a steady state.
const memorySettle = 2 * time.Second

// BenchmarkResidentMemory builds the real svidkit-server and svidkit-agent
// binaries, runs them as child processes from HCL config files, and
// reports their resident set size (VmRSS): idle after attestation, then
// with 1,000 entries parented to the agent (so it holds 1,000 minted
// X.509-SVIDs). Targets: server < 50 MiB, agent < 28.5 MiB, half of
// SPIRE's 100 MiB / 57 MiB. At the end both get SIGTERM and must exit 0.
// Besides VmRSS ("-MiB") it reports RssAnon ("-anon-MiB"): VmRSS also
// counts the binary's file-backed pages, about 15 MiB per daemon when the
// freshly built binary is in the page cache, while RssAnon is heap, stacks
// and runtime state only. VmHWM ("-peak-MiB") is the high-water mark.
// The agent's health listener is on, to read its sync metrics. It runs
// once and ignores b.N.
func BenchmarkResidentMemory(b *testing.B) {
	bin := buildBinaries(b, "server", "agent")
	l := testenv.NewLayout(b, spiffeid.RequireTrustDomainFromString(trustDomain))

	serverPort := testenv.FreePort(b)
	server, admin := startServerProcess(b, l, filepath.Join(bin, "svidkit-server"), serverPort)
	healthPort := testenv.FreePort(b)
	agentProc := startAgentProcess(b, l, admin, filepath.Join(bin, "svidkit-agent"), serverPort, healthPort)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", healthPort)
	readyURL := fmt.Sprintf("http://127.0.0.1:%d/ready", healthPort)
	pollUntil(b, 30*time.Second, 50*time.Millisecond, "the agent to be ready and serve its socket", func() bool {
		_, err := os.Stat(l.AgentSocket(processAgent))
		return err == nil && httpOK(readyURL)
	})

	b.ResetTimer()
	time.Sleep(memorySettle) // Let the daemons idle; nothing to wait for.
	reportMemory(b, "idle", server.Process.Pid, agentProc.Process.Pid)

	const n = 1000
	entries := make([]*types.Entry, n)
	for i := range entries {
		entries[i] = &types.Entry{
			SpiffeId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: fmt.Sprintf("/workload/%d", i)},
			ParentId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: "/node"},
			Selectors: []*types.Selector{{Type: "unix", Value: fmt.Sprintf("uid:%d", 20000+i)}},
		}
	}
	admin.CreateEntries(b, entries)
	pollUntil(b, 2*time.Minute, 50*time.Millisecond, "the agent to mint 1,000 SVIDs", func() bool {
		return agentMetric(metricsURL, "svidkit_agent_entries") >= n &&
			agentMetric(metricsURL, "svidkit_agent_x509_svids_minted_total") >= n
	})
	time.Sleep(memorySettle) // Let the daemons idle; nothing to wait for.
	reportMemory(b, "1k", server.Process.Pid, agentProc.Process.Pid)
	b.ReportMetric(benchmetric.ProcStatusMiB(b, server.Process.Pid, "VmHWM:"), "server-peak-MiB")
	b.ReportMetric(benchmetric.ProcStatusMiB(b, agentProc.Process.Pid, "VmHWM:"), "agent-peak-MiB")
	b.StopTimer()
	b.ReportMetric(0, "ns/op")

	// Stop in reverse start order and require a graceful exit.
	for _, p := range []*exec.Cmd{agentProc, server} {
		if err := stopProcess(p); err != nil {
			b.Errorf("%s: %v", filepath.Base(p.Path), err)
		}
	}
}

// moduleRoot returns the directory holding go.mod.
func moduleRoot(tb testing.TB, goTool string) string {
	tb.Helper()
	return gobuild.ModuleRoot(tb, goTool)
}

// processAgent is the name of the agent BenchmarkResidentMemory runs.
const processAgent = "agent"

// startServerProcess runs the server binary on port with the settings of
// an in-process testenv server and waits until its admin API answers.
func startServerProcess(tb testing.TB, l *testenv.Layout, binary string, port int) (*exec.Cmd, *testenv.Admin) {
	tb.Helper()
	return startServerProcessWith(tb, l, binary, "server", l.ServerConfig(port))
}

// startServerProcessWith runs the server binary with cfg, its
// configuration and log files named after name in l.Dir, and waits until
// its admin API (at l.AdminSocket) answers.
func startServerProcessWith(tb testing.TB, l *testenv.Layout, binary, name string, cfg *config.Server) (*exec.Cmd, *testenv.Admin) {
	tb.Helper()
	conf, err := testenv.ServerHCL(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		tb.Fatal(err)
	}
	cmd := startProcess(tb, l.Dir, binary, name, conf)
	admin := testenv.DialAdmin(tb, l.AdminSocket, l.TrustDomain)
	client := bundlev1.NewBundleClient(admin.Conn())
	pollUntil(tb, 30*time.Second, 50*time.Millisecond, "the server's admin API", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := client.GetBundle(ctx, &bundlev1.GetBundleRequest{})
		return err == nil
	})
	return cmd, admin
}

// startAgentProcess runs the agent binary with the settings of an
// in-process testenv agent of the server on serverPort, a join token for
// /node and its health listener on healthPort.
func startAgentProcess(tb testing.TB, l *testenv.Layout, admin *testenv.Admin, binary string, serverPort, healthPort int) *exec.Cmd {
	tb.Helper()
	return startAgentProcessWith(tb, l, admin, binary, serverPort, healthPort, nil)
}

// startAgentProcessWith is startAgentProcess with adjust, when not nil,
// applied to the configuration before it is written.
func startAgentProcessWith(tb testing.TB, l *testenv.Layout, admin *testenv.Admin, binary string, serverPort, healthPort int, adjust func(*config.Agent)) *exec.Cmd {
	tb.Helper()
	if err := os.WriteFile(l.BundlePath(), admin.BundlePEM(tb), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, err := l.AgentConfig(net.JoinHostPort("127.0.0.1", strconv.Itoa(serverPort)), processAgent, "")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Health.ListenerEnabled = true
	cfg.Health.BindAddress = "127.0.0.1"
	cfg.Health.BindPort = healthPort
	if adjust != nil {
		adjust(cfg)
	}
	conf, err := testenv.AgentHCL(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		tb.Fatal(err)
	}
	return startProcess(tb, l.Dir, binary, "agent", conf, "-joinToken", admin.JoinToken(tb, "/node"))
}

// startProcess writes dir/name.conf, starts `binary run -config name.conf
// args...` in dir (relative paths in the configuration resolve there)
// with its output in dir/name.log, and kills it at cleanup if it
// is still running. The log is printed when the benchmark fails.
func startProcess(tb testing.TB, dir, binary, name, conf string, args ...string) *exec.Cmd {
	tb.Helper()
	confPath := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(binary, append([]string{"run", "-config", confPath}, args...)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		tb.Fatalf("start %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		logFile.Close()
		if tb.Failed() {
			out, _ := os.ReadFile(logPath)
			tb.Logf("%s log:\n%s", name, out)
		}
	})
	return cmd
}

// stopProcess sends SIGTERM and waits for a zero exit status.
func stopProcess(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("send SIGTERM: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("exit after SIGTERM: %w", err)
		}
		return nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("still running 30s after SIGTERM; killed")
	}
}

// agentMetric scrapes one unlabelled metric from a Prometheus text
// endpoint; -1 when the endpoint or the metric is unavailable.
func agentMetric(url, name string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return -1
			}
			return v
		}
	}
	return -1
}

// reportMemory reports VmRSS and RssAnon of both daemons for one phase.
func reportMemory(b *testing.B, phase string, serverPID, agentPID int) {
	b.Helper()
	for _, d := range []struct {
		name string
		pid  int
	}{{"server", serverPID}, {"agent", agentPID}} {
		b.ReportMetric(benchmetric.ProcStatusMiB(b, d.pid, "VmRSS:"), d.name+"-"+phase+"-MiB")
		b.ReportMetric(benchmetric.ProcStatusMiB(b, d.pid, "RssAnon:"), d.name+"-"+phase+"-anon-MiB")
	}
}

// httpOK reports whether GET url answers 200.
func httpOK(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
