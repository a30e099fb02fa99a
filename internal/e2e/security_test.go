package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/testenv"
)

// TestAgentSeesOnlyItsOwnEntries: an entry parented to agent A's node is
// never served by agent B, even to a workload with matching selectors.
func TestAgentSeesOnlyItsOwnEntries(t *testing.T) {
	e := startServer(t, testenv.Options{})
	a := e.StartAgent(t, "a", e.JoinToken(t, "/node-a"))
	b := e.StartAgent(t, "b", e.JoinToken(t, "/node-b"))
	e.CreateEntry(t, workloadEntry("/node-a", "/only-a", 0))

	wa := watch(t, a.Client(t))
	wa.waitFor(t, 10*time.Second, "agent A to serve its entry", func(x *workloadapi.X509Context) bool { return len(x.SVIDs) == 1 })

	// Agent B has synced at least once after the entry exists once it is
	// ready and a later entry of its own shows up; until then "no identity".
	e.CreateEntry(t, workloadEntry("/node-b", "/only-b", 0))
	wb := watch(t, b.Client(t))
	x := wb.waitFor(t, 10*time.Second, "agent B to serve its own entry", func(x *workloadapi.X509Context) bool { return len(x.SVIDs) > 0 })
	for _, s := range x.SVIDs {
		if s.ID.Path() != "/only-b" {
			t.Fatalf("agent B served %s, an entry of agent A", s.ID)
		}
	}
}

// TestBannedAgentIsRefused: after BanAgent the agent gets nothing new from
// the server: a new entry under its node never reaches its workloads.
func TestBannedAgentIsRefused(t *testing.T) {
	e := startServer(t, testenv.Options{})
	ag := e.StartAgent(t, "a", e.JoinToken(t, "/node"))
	e.CreateEntry(t, workloadEntry("/node", "/app", 0))
	w := watch(t, ag.Client(t))
	w.waitFor(t, 10*time.Second, "the first SVID", func(x *workloadapi.X509Context) bool { return len(x.SVIDs) == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := agentv1.NewAgentClient(e.Conn())
	list, err := admin.ListAgents(ctx, &agentv1.ListAgentsRequest{})
	if err != nil || len(list.Agents) != 1 {
		t.Fatalf("ListAgents = %v, %v", list, err)
	}
	id := list.Agents[0].Id
	if _, err := admin.BanAgent(ctx, &agentv1.BanAgentRequest{Id: id}); err != nil {
		t.Fatalf("BanAgent: %v", err)
	}
	e.CreateEntry(t, workloadEntry("/node", "/after-ban", 0))
	// Give the agent several sync rounds; the new entry must not arrive.
	deadline := time.After(2 * time.Second)
	for {
		select {
		case x := <-w.updates:
			if ids(x)["spiffe://"+trustDomain+"/after-ban"] != nil {
				t.Fatal("a banned agent received a new entry")
			}
		case <-deadline:
			got, err := admin.GetAgent(ctx, &agentv1.GetAgentRequest{Id: &types.SPIFFEID{TrustDomain: id.TrustDomain, Path: id.Path}})
			if err != nil || !got.Banned {
				t.Fatalf("GetAgent after ban = %v, %v; want banned", got, err)
			}
			return
		}
	}
}

// TestJoinTokenIsSingleUse: a second agent presenting a used token fails.
func TestJoinTokenIsSingleUse(t *testing.T) {
	e := startServer(t, testenv.Options{})
	token := e.JoinToken(t, "")
	e.StartAgent(t, "a", token)
	err := e.RunAgentExpectingFailure(t, "b", e.AgentConfig(t, "b", token))
	if err == nil {
		t.Fatal("second agent attested with a used join token")
	}
	if s, ok := status.FromError(err); ok && s.Code() == codes.OK {
		t.Fatalf("unexpected error %v", err)
	}
}
