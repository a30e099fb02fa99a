package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/internal/testenv"
)

// BenchmarkLargeEntrySyncMemory is issue 10 finding 6 as a memory figure:
// the real svidkit-server and svidkit-agent binaries, 40 entries of the
// maximum size (about 10 MB of entries, more than twice gRPC's 4 MiB
// message limit) parented to the agent, synced in pages and each minted.
// It reports both daemons' peak RSS (VmHWM, "-peak-MiB") and their RSS
// once settled. It runs once and ignores b.N.
func BenchmarkLargeEntrySyncMemory(b *testing.B) {
	const n = 2 * largeEntryCount
	bin := buildBinaries(b, "server", "agent")
	l := testenv.NewLayout(b, spiffeid.RequireTrustDomainFromString(trustDomain))
	serverPort := testenv.FreePort(b)
	server, admin := startServerProcess(b, l, filepath.Join(bin, "svidkit-server"), serverPort)
	healthPort := testenv.FreePort(b)
	agentProc := startAgentProcess(b, l, admin, filepath.Join(bin, "svidkit-agent"), serverPort, healthPort)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", healthPort)
	pollUntil(b, 30*time.Second, 50*time.Millisecond, "the agent to be ready", func() bool {
		_, err := os.Stat(l.AgentSocket(processAgent))
		return err == nil && httpOK(fmt.Sprintf("http://127.0.0.1:%d/ready", healthPort))
	})

	b.ResetTimer()
	createLargeEntries(b, admin, testenv.NodePath, n)
	// n large entries and the join-token alias of the agent's node.
	pollUntil(b, 2*time.Minute, 50*time.Millisecond, "the agent to sync and mint the large entries", func() bool {
		return agentMetric(metricsURL, "svidkit_agent_entries") >= n+1 &&
			agentMetric(metricsURL, "svidkit_agent_x509_svids_minted_total") >= n+1
	})
	b.ReportMetric(benchmetric.ProcStatusMiB(b, server.Process.Pid, "VmHWM:"), "server-peak-MiB")
	b.ReportMetric(benchmetric.ProcStatusMiB(b, agentProc.Process.Pid, "VmHWM:"), "agent-peak-MiB")
	time.Sleep(memorySettle) // Let the daemons idle; nothing to wait for.
	reportMemory(b, "large", server.Process.Pid, agentProc.Process.Pid)
	b.StopTimer()
	b.ReportMetric(0, "ns/op")

	for _, p := range []*exec.Cmd{agentProc, server} {
		if err := stopProcess(p); err != nil {
			b.Errorf("%s: %v", filepath.Base(p.Path), err)
		}
	}
}
