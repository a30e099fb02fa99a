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

	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
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
	goTool, err := exec.LookPath("go")
	if err != nil {
		b.Skip("BenchmarkResidentMemory builds the daemons and needs the go toolchain in PATH: ", err)
	}
	root := moduleRoot(b, goTool)
	e := newEnv(b)
	bin := b.TempDir()
	for _, name := range []string{"server", "agent"} {
		// The flags of the Taskfile's build task, so that the figures are
		// those of the shipped binaries.
		build := exec.Command(goTool, "build", "-trimpath", "-tags", "grpcnotrace", "-ldflags", "-s -w",
			"-o", filepath.Join(bin, "svidkit-"+name), "./cmd/"+name)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
		}
	}

	server := e.startServerProcess(filepath.Join(bin, "svidkit-server"), freePort(b))
	healthPort := freePort(b)
	agentProc := e.startAgentProcess(filepath.Join(bin, "svidkit-agent"), e.joinToken("/node"), healthPort)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", healthPort)
	readyURL := fmt.Sprintf("http://127.0.0.1:%d/ready", healthPort)
	pollUntil(b, 30*time.Second, 50*time.Millisecond, "the agent to be ready and serve its socket", func() bool {
		_, err := os.Stat(filepath.Join(e.sockDir, "agent.sock"))
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
	e.createEntries(entries)
	pollUntil(b, 2*time.Minute, 50*time.Millisecond, "the agent to mint 1,000 SVIDs", func() bool {
		return agentMetric(metricsURL, "svidkit_agent_entries") >= n &&
			agentMetric(metricsURL, "svidkit_agent_x509_svids_minted_total") >= n
	})
	time.Sleep(memorySettle) // Let the daemons idle; nothing to wait for.
	reportMemory(b, "1k", server.Process.Pid, agentProc.Process.Pid)
	b.ReportMetric(procStatusMiB(b, server.Process.Pid, "VmHWM:"), "server-peak-MiB")
	b.ReportMetric(procStatusMiB(b, agentProc.Process.Pid, "VmHWM:"), "agent-peak-MiB")
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
	out, err := exec.Command(goTool, "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		tb.Fatal("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServerProcess runs the server binary on port, waits until its admin
// API answers, and fixes e.tcpAddr.
func (e *env) startServerProcess(binary string, port int) *exec.Cmd {
	e.t.Helper()
	dataDir := filepath.Join(e.dir, "server")
	conf := fmt.Sprintf(`server {
  bind_address = "127.0.0.1"
  bind_port = "%d"
  socket_path = %q
  trust_domain = %q
  data_dir = %q
  log_level = "INFO"
  ca_ttl = "24h"
  default_x509_svid_ttl = "1h"
  agent_ttl = "1h"
}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = %q
    }
  }
  KeyManager "disk" {
    plugin_data {
      keys_path = %q
    }
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
`, port, e.adminSock, trustDomain, dataDir, filepath.Join(dataDir, "datastore.sqlite3"), filepath.Join(dataDir, "keys.json"))
	cmd := e.startProcess(binary, "server", conf)
	e.tcpAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	client := bundlev1.NewBundleClient(e.admin())
	pollUntil(e.t, 30*time.Second, 50*time.Millisecond, "the server's admin API", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := client.GetBundle(ctx, &bundlev1.GetBundleRequest{})
		return err == nil
	})
	return cmd
}

// startAgentProcess runs the agent binary with a join token and its health
// listener on healthPort.
func (e *env) startAgentProcess(binary, token string, healthPort int) *exec.Cmd {
	e.t.Helper()
	dataDir := filepath.Join(e.dir, "agent")
	bundlePath := filepath.Join(e.dir, "bundle.pem")
	if err := os.WriteFile(bundlePath, e.bundlePEM(), 0o644); err != nil {
		e.t.Fatal(err)
	}
	host, port := splitHostPort(e.t, e.tcpAddr)
	conf := fmt.Sprintf(`agent {
  data_dir = %q
  log_level = "INFO"
  server_address = %q
  server_port = "%d"
  socket_path = %q
  trust_domain = %q
  trust_bundle_path = %q
}

plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "disk" {
    plugin_data {
      directory = %q
    }
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}

health_checks {
  listener_enabled = true
  bind_address = "127.0.0.1"
  bind_port = "%d"
}
`, dataDir, host, port, filepath.Join(e.sockDir, "agent.sock"), trustDomain, bundlePath, dataDir, healthPort)
	return e.startProcess(binary, "agent", conf, "-joinToken", token)
}

// startProcess writes name.conf, starts `binary run -config name.conf
// args...` with its output in name.log, and kills it at cleanup if it is
// still running. The log is printed when the benchmark fails.
func (e *env) startProcess(binary, name, conf string, args ...string) *exec.Cmd {
	e.t.Helper()
	confPath := filepath.Join(e.dir, name+".conf")
	if err := os.MkdirAll(filepath.Join(e.dir, name), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		e.t.Fatal(err)
	}
	logPath := filepath.Join(e.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(binary, append([]string{"run", "-config", confPath}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		e.t.Fatalf("start %s: %v", name, err)
	}
	e.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		logFile.Close()
		if e.t.Failed() {
			out, _ := os.ReadFile(logPath)
			e.t.Logf("%s log:\n%s", name, out)
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
		b.ReportMetric(procStatusMiB(b, d.pid, "VmRSS:"), d.name+"-"+phase+"-MiB")
		b.ReportMetric(procStatusMiB(b, d.pid, "RssAnon:"), d.name+"-"+phase+"-anon-MiB")
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

// procStatusMiB reads a kB field (VmRSS:, RssAnon:, VmHWM:) of
// /proc/<pid>/status in MiB.
func procStatusMiB(tb testing.TB, pid int, field string) float64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatalf("read memory of pid %d: %v", pid, err)
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == field && f[2] == "kB" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				tb.Fatalf("parse %s of pid %d: %v", field, pid, err)
			}
			return kb / 1024
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
