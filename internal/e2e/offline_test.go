package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/testenv"
)

// TestAgentServesWhileServerIsDown: cached SVIDs keep being served while the
// server is away, and the agent reconnects by itself when it returns.
func TestAgentServesWhileServerIsDown(t *testing.T) {
	e := startServer(t, testenv.Options{})
	ag := e.StartAgent(t, "a", e.JoinToken(t, "/node"))
	e.CreateEntry(t, workloadEntry("/node", "/app", 0))
	c := ag.Client(t)
	w := watch(t, c)
	w.waitFor(t, 10*time.Second, "the first SVID", func(x *workloadapi.X509Context) bool { return len(x.SVIDs) == 1 })

	e.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svid, err := c.FetchX509SVID(ctx)
	if err != nil {
		t.Fatalf("FetchX509SVID with the server down: %v", err)
	}
	if got := svid.ID.Path(); got != "/app" {
		t.Fatalf("served %s, want /app", svid.ID)
	}

	e.Restart(t)
	e.CreateEntry(t, workloadEntry("/node", "/app2", 0))
	w.waitFor(t, 20*time.Second, "an entry created after the server came back", func(x *workloadapi.X509Context) bool {
		return ids(x)["spiffe://"+trustDomain+"/app2"] != nil
	})
}
