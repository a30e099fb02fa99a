package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testenv"
)

// federatedDomains is how many foreign trust domains
// BenchmarkAgentMemoryFederated federates with.
const federatedDomains = 50

// BenchmarkAgentMemoryFederated builds the real svidkit-server and
// svidkit-agent, runs them as child processes, and reports the agent's
// resident memory (VmRSS "-MiB", RssAnon "-anon-MiB", as
// BenchmarkResidentMemory) with 100 entries of other uids plus one of this
// process ("entries"), then after 50 foreign bundles (each an X.509 root
// and a JWT key, set with `bundle set -format spiffe` as SPIRE users do)
// and every entry updated to federate with all 50 ("fed50"): the agent
// then holds the 50 bundles, which reach this process's workload. The
// difference is the cost of the federated bundles: measured 23.5 → 24.8
// MiB VmRSS, 8.4 → 9.5 MiB RssAnon. It runs once and ignores b.N.
func BenchmarkAgentMemoryFederated(b *testing.B) {
	bin := buildBinaries(b, "server", "agent")
	l := testenv.NewLayout(b, spiffeid.RequireTrustDomainFromString(trustDomain))
	serverPort := testenv.FreePort(b)
	server, admin := startServerProcess(b, l, filepath.Join(bin, "svidkit-server"), serverPort)
	healthPort := testenv.FreePort(b)
	agentProc := startAgentProcess(b, l, admin, filepath.Join(bin, "svidkit-agent"), serverPort, healthPort)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", healthPort)

	entries := append(otherUIDEntries("/node", 100), &types.Entry{
		SpiffeId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: "/workload"},
		ParentId:  &types.SPIFFEID{TrustDomain: trustDomain, Path: "/node"},
		Selectors: []*types.Selector{{Type: "unix", Value: fmt.Sprintf("uid:%d", os.Getuid())}},
	})
	entries = admin.CreateEntries(b, entries)
	pollUntil(b, 2*time.Minute, 50*time.Millisecond, "the agent to mint 101 SVIDs", func() bool {
		return agentMetric(metricsURL, "svidkit_agent_entries") >= 101 &&
			agentMetric(metricsURL, "svidkit_agent_x509_svids_minted_total") >= 101
	})
	b.ResetTimer()
	time.Sleep(memorySettle) // Let the daemons idle; nothing to wait for.
	reportAgentMemory(b, "entries", agentProc.Process.Pid)

	tds := make([]string, federatedDomains)
	for i := range tds {
		tds[i] = fmt.Sprintf("fed%02d.test", i)
		doc, err := testca.NewForTest(b, tds[i]).Bundle().Marshal()
		if err != nil {
			b.Fatal(err)
		}
		if code, out, stderr := runServerCLIAt(l.AdminSocket, string(doc), "bundle", "set", "-id", "spiffe://"+tds[i], "-format", "spiffe"); code != 0 {
			b.Fatalf("bundle set %s: exit %d: %s%s", tds[i], code, out, stderr)
		}
	}
	federateAll(b, admin, entries, tds)
	pollUntil(b, 2*time.Minute, 100*time.Millisecond, "the workload to receive 50 federated bundles", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		set, err := workloadapi.FetchX509Bundles(ctx, workloadapi.WithAddr("unix://"+l.AgentSocket(processAgent)))
		return err == nil && set.Len() == federatedDomains+1
	})
	time.Sleep(memorySettle) // Let the daemons idle; nothing to wait for.
	reportAgentMemory(b, "fed50", agentProc.Process.Pid)
	b.ReportMetric(benchmetric.ProcStatusMiB(b, agentProc.Process.Pid, "VmHWM:"), "agent-peak-MiB")
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	if err := stopProcess(agentProc); err != nil {
		b.Errorf("agent: %v", err)
	}
	if err := stopProcess(server); err != nil {
		b.Errorf("server: %v", err)
	}
}

// federateAll makes every one of entries federate with tds.
func federateAll(b *testing.B, admin *testenv.Admin, entries []*types.Entry, tds []string) {
	b.Helper()
	update := make([]*types.Entry, len(entries))
	for i, e := range entries {
		update[i] = &types.Entry{Id: e.Id, FederatesWith: tds}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := entryv1.NewEntryClient(admin.Conn()).BatchUpdateEntry(ctx, &entryv1.BatchUpdateEntryRequest{
		Entries: update, InputMask: &types.EntryMask{FederatesWith: true},
	})
	if err != nil {
		b.Fatalf("BatchUpdateEntry: %v", err)
	}
	for _, r := range resp.Results {
		if codes.Code(r.Status.Code) != codes.OK {
			b.Fatalf("BatchUpdateEntry: %s", r.Status.Message)
		}
	}
}

// reportAgentMemory reports the agent's VmRSS and RssAnon for one phase.
func reportAgentMemory(b *testing.B, phase string, pid int) {
	b.Helper()
	b.ReportMetric(benchmetric.ProcStatusMiB(b, pid, "VmRSS:"), "agent-"+phase+"-MiB")
	b.ReportMetric(benchmetric.ProcStatusMiB(b, pid, "RssAnon:"), "agent-"+phase+"-anon-MiB")
}
