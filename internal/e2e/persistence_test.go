package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"google.golang.org/protobuf/proto"

	"github.com/svidkit/svidkit/internal/testenv"
)

func TestServerRestartKeepsState(t *testing.T) {
	e := startServer(t, testenv.Options{})
	ag := e.StartAgent(t, "a", e.JoinToken(t, "/node"))
	entryID := e.CreateEntry(t, workloadEntry("/node", "/app", 0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	bundleBefore, err := bundlev1.NewBundleClient(e.Conn()).GetBundle(ctx, &bundlev1.GetBundleRequest{})
	if err != nil {
		t.Fatal(err)
	}
	agentsBefore, err := agentv1.NewAgentClient(e.Conn()).ListAgents(ctx, &agentv1.ListAgentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ag.Stop()
	e.Stop()

	e.Restart(t)
	admin := e.Conn()
	entry, err := entryv1.NewEntryClient(admin).GetEntry(ctx, &entryv1.GetEntryRequest{Id: entryID})
	if err != nil {
		t.Fatalf("entry lost across restart: %v", err)
	}
	if got := entry.SpiffeId.Path; got != "/app" {
		t.Fatalf("entry SPIFFE ID path %q, want /app", got)
	}
	agentsAfter, err := agentv1.NewAgentClient(admin).ListAgents(ctx, &agentv1.ListAgentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(agentsAfter.Agents) != len(agentsBefore.Agents) || agentsAfter.Agents[0].Id.Path != agentsBefore.Agents[0].Id.Path {
		t.Fatalf("agents after restart = %v, want %v", agentsAfter.Agents, agentsBefore.Agents)
	}
	bundleAfter, err := bundlev1.NewBundleClient(admin).GetBundle(ctx, &bundlev1.GetBundleRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(bundleBefore.X509Authorities[0], bundleAfter.X509Authorities[0]) {
		t.Fatal("the CA changed across a server restart")
	}

	// The agent restarts without a join token: it reuses its stored SVID,
	// and the same workload gets an SVID that chains to the same CA.
	ag2 := e.StartAgent(t, "a", "")
	c := ag2.Client(t)
	w := watch(t, c)
	x := w.waitFor(t, 10*time.Second, "an SVID after restarts", func(x *workloadapi.X509Context) bool { return len(x.SVIDs) > 0 })
	if _, _, err := x509svid.Verify(x.SVIDs[0].Certificates, x.Bundles); err != nil {
		t.Fatalf("SVID after restart does not verify: %v", err)
	}
	agentsFinal, err := agentv1.NewAgentClient(admin).ListAgents(ctx, &agentv1.ListAgentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(agentsFinal.Agents) != 1 {
		t.Fatalf("restarted agent attested anew: %d agents", len(agentsFinal.Agents))
	}
}
