package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/pgtest"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/config"
)

// TestServersRideOutPostgresRestart: two servers on one PostgreSQL, an
// agent on each, their workloads watching SVIDs that rotate every few
// seconds. PostgreSQL is stopped with the servers running: SVIDs keep
// rotating, a restarted agent syncs and gets its workload's SVID (both
// from the servers' memory), and entry creates through either server fail
// with Unavailable. PostgreSQL comes back: creates succeed again through
// both servers, without restarting them, and an entry created through one
// reaches the agent of the other (its change notifications resumed). No
// workload sees an error or an expired SVID throughout.
func TestServersRideOutPostgresRestart(t *testing.T) {
	const ttl = 10 * time.Second
	db := pgtest.Start(t)
	cs := db.NewDatabase(t)
	opts := testenv.Options{CARotationCheckInterval: time.Hour, ServerConfig: func(c *config.Server) {
		c.DataStore = config.DataStore{DatabaseType: config.DatabasePostgres, ConnectionString: cs}
	}}
	srvA, srvB := startServer(t, opts), startServer(t, opts)
	srvA.CreateEntry(t, workloadEntry("/node-a", "/app-a", int32(ttl/time.Second)))
	srvB.CreateEntry(t, workloadEntry("/node-b", "/app-b", int32(ttl/time.Second)))
	agA := srvA.StartAgent(t, "a", srvA.JoinToken(t, "/node-a"))
	agB := srvB.StartAgent(t, "b", srvB.JoinToken(t, "/node-b"))
	appA, appB := "spiffe://"+trustDomain+"/app-a", "spiffe://"+trustDomain+"/app-b"
	mA := watchSVIDs(t, "workload of agent a", agA.Address())
	mB := watchSVIDs(t, "workload of agent b", agB.Address())
	mA.waitSeen(t, 30*time.Second, appA)
	mB.waitSeen(t, 30*time.Second, appB)
	stopChecks := checkWorkloads([]*svidMonitor{mA, mB}, 250*time.Millisecond)

	db.Stop(t)
	stopped := time.Now()
	for _, s := range []*testenv.Server{srvA, srvB} {
		if code := createCode(s, "/node-a", "/while-down"); code != codes.Unavailable {
			t.Errorf("create entry with PostgreSQL down: code %s, want %s", code, codes.Unavailable)
		}
	}
	// Minting from memory: both workloads' SVIDs rotate.
	mA.waitRenewedAfter(t, ttl, appA, stopped)
	mB.waitRenewedAfter(t, ttl, appB, stopped)
	// Syncing from memory: a restarted agent (stored identity) syncs its
	// entries and serves its workload.
	agB.Stop()
	agB2 := srvB.StartAgent(t, "b", "")
	mB2 := watchSVIDs(t, "workload of restarted agent b", agB2.Address())
	mB2.waitSeen(t, 30*time.Second, appB)

	db.Restart(t)
	for _, s := range []*testenv.Server{srvA, srvB} {
		pollUntil(t, 30*time.Second, 100*time.Millisecond, "creates to succeed again after PostgreSQL's restart", func() bool {
			return createCode(s, "/node-a", fmt.Sprintf("/after-restart/%p", s)) == codes.OK
		})
	}
	// Through A, to B's agent: B's change notifications work again.
	srvA.CreateEntry(t, workloadEntry("/node-b", "/app-b2", int32(ttl/time.Second)))
	mB2.waitSeen(t, 30*time.Second, "spiffe://"+trustDomain+"/app-b2")
	stopChecks()
	for _, m := range []*svidMonitor{mA, mB2} {
		for _, p := range m.Problems() {
			t.Errorf("workload problem: %s", p)
		}
	}
}

// createCode creates an entry for the test's uid through s's admin API and
// returns the gRPC code of the outcome (the call's or the entry's).
func createCode(s *testenv.Server, parent, path string) codes.Code {
	e, err := workloadEntry(parent, path, 0).Proto(trustDomain)
	if err != nil {
		return codes.InvalidArgument
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := entryv1.NewEntryClient(s.Conn()).BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{e}})
	if err != nil {
		return status.Code(err)
	}
	return codes.Code(resp.Results[0].GetStatus().GetCode())
}
