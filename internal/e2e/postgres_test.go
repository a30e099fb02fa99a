package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"

	"github.com/svidkit/svidkit/internal/pgtest"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// pg is the e2e package's PostgreSQL server, started by TestMain.
var pg pgtest.Server

// TestPostgresServerRestartKeepsState: a server on PostgreSQL serves an
// agent's workload its SVID; restarted on the same database it still has
// the entry and the agent, keeps its CA, and serves a new entry's SVID to
// the same agent.
func TestPostgresServerRestartKeepsState(t *testing.T) {
	cs := pg.NewDatabase(t)
	e := startServer(t, testenv.Options{ServerConfig: func(c *config.Server) {
		c.DataStore = config.DataStore{DatabaseType: config.DatabasePostgres, ConnectionString: cs}
	}})
	ag := e.StartAgent(t, "a", e.JoinToken(t, "/node"))
	entryID := e.CreateEntry(t, workloadEntry("/node", "/app", 0))
	w := watch(t, ag.Client(t))
	first := w.waitFor(t, 30*time.Second, "the first SVID", func(x *workloadapi.X509Context) bool { return len(x.SVIDs) > 0 })
	if got := first.SVIDs[0].ID.Path(); got != "/app" {
		t.Fatalf("SVID %s, want path /app", first.SVIDs[0].ID)
	}

	e.Restart(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	entry, err := entryv1.NewEntryClient(e.Conn()).GetEntry(ctx, &entryv1.GetEntryRequest{Id: entryID})
	if err != nil {
		t.Fatalf("entry lost across restart: %v", err)
	}
	if entry.SpiffeId.Path != "/app" {
		t.Fatalf("entry after restart has path %q, want /app", entry.SpiffeId.Path)
	}
	e.CreateEntry(t, testenv.Entry{Path: "/app2", ParentPath: "/node", Selectors: workloadEntry("/node", "/app", 0).Selectors, Hint: "second"})
	x := w.waitFor(t, 30*time.Second, "SVIDs of both entries after the restart", func(x *workloadapi.X509Context) bool { return len(x.SVIDs) == 2 })
	for _, s := range x.SVIDs {
		if _, _, err := x509svid.Verify(s.Certificates, x.Bundles); err != nil {
			t.Fatalf("SVID %s after restart does not verify: %v", s.ID, err)
		}
	}
	if !x.Bundles.Bundles()[0].X509Authorities()[0].Equal(first.Bundles.Bundles()[0].X509Authorities()[0]) {
		t.Fatal("the CA changed across a server restart on PostgreSQL")
	}
}
