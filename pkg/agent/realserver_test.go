package agent_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agent"
)

// The agent's tests run against the real svidkit server of
// internal/testenv (this is package agent_test, so importing testenv,
// which imports pkg/agent, makes no cycle). The agent under test is built
// here with agent.New rather than by testenv, so that a test controls its
// clock, metrics registry and intervals and reads its Manager directly.
// Only tests that must inject a server fault use fakeserver_test.go; each
// says which.

// realConfig returns the config of an agent of srv: its address, its
// bundle as bootstrap trust, and a fresh join token for testenv.NodePath,
// so that entries created with testenv.Entry (parent NodePath) are its.
func realConfig(t testing.TB, srv *testenv.Server, clk *testclock.Clock, dataDir string) agent.Config {
	t.Helper()
	bundle, err := x509bundle.Parse(srv.Layout.TrustDomain, srv.BundlePEM(t))
	if err != nil {
		t.Fatalf("server bundle: %v", err)
	}
	return agent.Config{
		TrustDomain:   srv.Layout.TrustDomain,
		ServerAddress: srv.TCPAddr,
		TrustBundle:   bundle.X509Authorities(),
		JoinToken:     srv.JoinToken(t, testenv.NodePath),
		DataDir:       dataDir,
		SyncInterval:  20 * time.Millisecond,
		Clock:         clk,
		Log:           testLogger(t),
		Registerer:    prometheus.NewRegistry(),
	}
}

// createEntry creates an entry for the workloads with sels of the agent
// testenv.NodePath and returns its ID.
func createEntry(t testing.TB, srv *testenv.Server, path string, sels ...string) string {
	t.Helper()
	return srv.CreateEntry(t, testenv.Entry{Path: path, Selectors: sels})
}

// setSelectors replaces the selectors of the entry with id.
func setSelectors(t testing.TB, srv *testenv.Server, id string, sels ...string) {
	t.Helper()
	e, err := testenv.Entry{Path: "/unused", Selectors: sels}.Proto(srv.Layout.TrustDomain.Name())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := entryv1.NewEntryClient(srv.Conn()).BatchUpdateEntry(t.Context(), &entryv1.BatchUpdateEntryRequest{
		Entries:   []*types.Entry{{Id: id, Selectors: e.Selectors}},
		InputMask: &types.EntryMask{Selectors: true},
	})
	if err != nil {
		t.Fatalf("BatchUpdateEntry %s: %v", id, err)
	}
	if r := resp.Results[0]; codes.Code(r.Status.Code) != codes.OK {
		t.Fatalf("BatchUpdateEntry %s: %s", id, r.Status.Message)
	}
}

// serverAgentSerial returns the serial number of the SVID the server holds
// as the current one of its only agent.
func serverAgentSerial(t testing.TB, srv *testenv.Server) string {
	t.Helper()
	resp, err := agentv1.NewAgentClient(srv.Conn()).ListAgents(t.Context(), &agentv1.ListAgentsRequest{})
	if err != nil {
		t.Fatalf("ListAgents: %v", err)
	}
	if len(resp.Agents) != 1 {
		t.Fatalf("server has %d agents, want 1", len(resp.Agents))
	}
	return resp.Agents[0].X509SvidSerialNumber
}
