package server_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/internal/pgtest"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
)

// withCountedStore wraps the server's store in datastore.WithMetrics,
// registered with reg, as svidkit-server does.
func withCountedStore(t testing.TB, reg prometheus.Registerer) envOption {
	return func(c *server.Config) {
		s, err := datastore.WithMetrics(c.Store, reg)
		if err != nil {
			t.Fatal(err)
		}
		c.Store = s
	}
}

// storeCalls returns how many times the server called the store's method.
func storeCalls(t testing.TB, reg *prometheus.Registry, method string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "svidkit_datastore_calls_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" && l.GetValue() == method {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// heldOnce runs a sync held on digest for at most a millisecond: the hold
// ends by timeout and the server re-checks the agent, as at the end of
// every 25 s hold of an idle agent.
func heldOnce(t *testing.T, conn *grpc.ClientConn, digest string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := syncOnce(ctx, conn, waitDigestKey, digest, waitTimeoutKey, "1")
	if r.err != nil || r.digest != digest {
		t.Fatalf("held sync: digest %q, %v; want %q", r.digest, r.err, digest)
	}
}

// TestIdleAgentCallsReadNoAgent: an attested agent's calls (entry syncs,
// held syncs ending by timeout, status reports, authorized entries) are
// authorized from the server's memory: after its first call the server
// reads the agent's record from the store no more.
func TestIdleAgentCallsReadNoAgent(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, withCountedStore(t, reg))
	svid := e.mustAttest("idle")
	e.createEntries(entryFor(svid, "/wl/idle"))
	conn := e.tcpConn(svid)
	digest := mustSync(t, conn).digest // reads the record
	before := storeCalls(t, reg, "GetAgent")

	const rounds = 10
	ctx := context.Background()
	for range rounds {
		mustSync(t, conn)
		heldOnce(t, conn, digest)
		if _, err := entryv1.NewEntryClient(conn).GetAuthorizedEntries(ctx, &entryv1.GetAuthorizedEntriesRequest{}); err != nil {
			t.Fatalf("GetAuthorizedEntries: %v", err)
		}
		if _, err := agentv1.NewAgentClient(conn).PostStatus(ctx, &agentv1.PostStatusRequest{}); err != nil {
			t.Fatalf("PostStatus: %v", err)
		}
	}
	if got := storeCalls(t, reg, "GetAgent") - before; got != 0 {
		t.Errorf("%d agent calls (%d of them held syncs) read the agent's record %v times, want 0", 4*rounds, rounds, got)
	}
}

// serverPairOnPostgres runs two servers on one new PostgreSQL database,
// as two server processes would (each its own pool and listener), with
// one CA, so that an agent's SVID is good on both. B's store calls are
// counted in regB.
func serverPairOnPostgres(t *testing.T, pg *pgtest.Server, regB *prometheus.Registry) (a, b *env) {
	t.Helper()
	cs := pg.NewDatabase(t)
	open := func() datastore.Store {
		s, err := postgres.Open(t.Context(), postgres.Config{ConnString: cs})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a = newEnv(t, func(c *server.Config) { c.Store = open() })
	b = newEnv(t, func(c *server.Config) { c.Store, c.Authority = open(), a.ca }, withCountedStore(t, regB))
	return a, b
}

// TestAgentChangesReachOtherServer: an agent attached to server B is
// authorized from B's memory, yet an eviction or a ban through server A
// (another process on the same PostgreSQL database) ends the agent's sync
// held by B with PermissionDenied and B refuses its next call; B learns
// of it from A's announcement and the agent change log.
func TestAgentChangesReachOtherServer(t *testing.T) {
	pg := pgtest.Start(t)
	tests := []struct {
		name   string
		act    func(admin agentv1.AgentClient, id *types.SPIFFEID) error
		reason types.PermissionDeniedDetails_Reason
	}{
		{name: "banned", reason: types.PermissionDeniedDetails_AGENT_BANNED, act: func(admin agentv1.AgentClient, id *types.SPIFFEID) error {
			_, err := admin.BanAgent(context.Background(), &agentv1.BanAgentRequest{Id: id})
			return err
		}},
		{name: "deleted", reason: types.PermissionDeniedDetails_AGENT_NOT_ATTESTED, act: func(admin agentv1.AgentClient, id *types.SPIFFEID) error {
			_, err := admin.DeleteAgent(context.Background(), &agentv1.DeleteAgentRequest{Id: id})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			regB := prometheus.NewRegistry()
			a, b := serverPairOnPostgres(t, pg, regB)
			svid := b.mustAttest("victim")
			conn := b.tcpConn(svid)
			digest := mustSync(t, conn).digest
			// The cached path: B no longer reads the agent.
			before := storeCalls(t, regB, "GetAgent")
			for range 3 {
				heldOnce(t, conn, digest)
			}
			if got := storeCalls(t, regB, "GetAgent") - before; got != 0 {
				t.Fatalf("B read the agent %v times for 3 held syncs, want 0 (served from memory)", got)
			}
			held := startSync(t, conn, waitDigestKey, digest, waitTimeoutKey, strconv.Itoa(int(time.Minute.Milliseconds())))
			waitHeld(t, b, 1)
			if err := tt.act(agentv1.NewAgentClient(a.admin), idOf(svid)); err != nil {
				t.Fatal(err)
			}
			r := await(t, held, 10*time.Second, "the sync held by B")
			wantCode(t, r.err, codes.PermissionDenied)
			assertReason(t, r.err, tt.reason)
			_, err := entryv1.NewEntryClient(conn).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
			wantCode(t, err, codes.PermissionDenied)
			assertReason(t, err, tt.reason)
		})
	}
}

// TestRenewalThroughOtherServer: an agent that renews its SVID through
// server A is served with the new SVID by server B at once, though B
// holds the agent's record from before the renewal, and B then refuses
// the old SVID.
func TestRenewalThroughOtherServer(t *testing.T) {
	a, b := serverPairOnPostgres(t, pgtest.Start(t), prometheus.NewRegistry())
	old := b.mustAttest("renew")
	get := func(svid *x509svid.SVID) error {
		_, err := entryv1.NewEntryClient(b.tcpConn(svid)).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
		return err
	}
	if err := get(old); err != nil {
		t.Fatalf("old SVID on B: %v", err)
	}
	key, csr := newKeyCSR(t)
	resp, err := agentv1.NewAgentClient(a.tcpConn(old)).RenewAgent(context.Background(),
		&agentv1.RenewAgentRequest{Params: &agentv1.AgentX509SVIDParams{Csr: csr}})
	if err != nil {
		t.Fatalf("RenewAgent through A: %v", err)
	}
	if err := get(svidFrom(t, resp.Svid, key)); err != nil {
		t.Fatalf("renewed SVID on B: %v", err)
	}
	err = get(old)
	wantCode(t, err, codes.PermissionDenied)
	assertReason(t, err, types.PermissionDeniedDetails_AGENT_NOT_ACTIVE)
}
