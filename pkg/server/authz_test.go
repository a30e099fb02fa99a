package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// authorizedIDs returns the sorted entry IDs the agent is authorized for.
func authorizedIDs(t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	resp, err := entryv1.NewEntryClient(conn).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
	if err != nil {
		t.Fatalf("GetAuthorizedEntries: %v", err)
	}
	var ids []string
	for _, e := range resp.Entries {
		ids = append(ids, e.Id)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func TestAgentsSeeOnlyTheirEntries(t *testing.T) {
	e := newEnv(t)
	a := e.mustAttest("agent-a")
	b := e.mustAttest("agent-b")
	entries := e.createEntries(
		&types.Entry{SpiffeId: pid("/wl/a"), ParentId: idOf(a), Selectors: sels("unix:uid:1"), DnsNames: []string{"a.example.org"}},
		&types.Entry{SpiffeId: pid("/wl/b"), ParentId: idOf(b), Selectors: sels("unix:uid:2")},
	)
	entA, entB := entries[0], entries[1]

	connA := e.tcpConn(a)
	if got := authorizedIDs(t, connA); !slices.Equal(got, []string{entA.Id}) {
		t.Fatalf("agent A authorized for %v, want [%s]", got, entA.Id)
	}
	if got := authorizedIDs(t, e.tcpConn(b)); !slices.Equal(got, []string{entB.Id}) {
		t.Fatalf("agent B authorized for %v, want [%s]", got, entB.Id)
	}

	_, csr := newKeyCSR(t)
	resp, err := svidv1.NewSVIDClient(connA).BatchNewX509SVID(context.Background(), &svidv1.BatchNewX509SVIDRequest{
		Params: []*svidv1.NewX509SVIDParams{
			{EntryId: entA.Id, Csr: csr},
			{EntryId: entB.Id, Csr: csr},
			{EntryId: entA.Id, Csr: []byte("bad")},
			{Csr: csr},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCodes := []codes.Code{codes.OK, codes.PermissionDenied, codes.InvalidArgument, codes.InvalidArgument}
	for i, want := range wantCodes {
		if got := codes.Code(resp.Results[i].Status.Code); got != want {
			t.Errorf("result %d: code %v (%s), want %v", i, got, resp.Results[i].Status.Message, want)
		}
	}
	svid := resp.Results[0].Svid
	if svid.Id.Path != "/wl/a" {
		t.Fatalf("SVID ID = %v", svid.Id)
	}
	parsed := svidFrom(t, svid, nil)
	if _, _, err := x509svid.Verify(parsed.Certificates, e.ca.Bundle()); err != nil {
		t.Fatalf("SVID does not verify: %v", err)
	}
	if !slices.Equal(parsed.Certificates[0].DNSNames, []string{"a.example.org"}) {
		t.Fatalf("DNS names = %v", parsed.Certificates[0].DNSNames)
	}
	if resp.Results[1].Svid != nil {
		t.Fatal("denied result carries an SVID")
	}

	// JWT-SVIDs follow the same rule.
	jwt, err := svidv1.NewSVIDClient(connA).NewJWTSVID(context.Background(), &svidv1.NewJWTSVIDRequest{EntryId: entA.Id, Audience: []string{"db"}})
	if err != nil {
		t.Fatalf("NewJWTSVID: %v", err)
	}
	if jwt.Svid.Token == "" || jwt.Svid.ExpiresAt <= jwt.Svid.IssuedAt {
		t.Fatalf("bad JWT-SVID %v", jwt.Svid)
	}
	_, err = svidv1.NewSVIDClient(connA).NewJWTSVID(context.Background(), &svidv1.NewJWTSVIDRequest{EntryId: entB.Id, Audience: []string{"db"}})
	wantCode(t, err, codes.PermissionDenied)
	_, err = svidv1.NewSVIDClient(connA).NewJWTSVID(context.Background(), &svidv1.NewJWTSVIDRequest{EntryId: entA.Id})
	wantCode(t, err, codes.InvalidArgument)
}

func TestNodeEntryAndAliasAuthorization(t *testing.T) {
	e := newEnv(t)
	// CreateJoinToken with agent_id creates an alias entry.
	e.createToken("aliased", 600, pid("/node/web"))
	agent, err := e.attest("aliased")
	if err != nil {
		t.Fatal(err)
	}
	other := e.mustAttest("other")
	agentSel := "spiffe_id:" + agent.ID.String()

	list, err := entryv1.NewEntryClient(e.admin).ListEntries(context.Background(), &entryv1.ListEntriesRequest{
		Filter: &entryv1.ListEntriesRequest_Filter{BySpiffeId: pid("/node/web")},
	})
	if err != nil || len(list.Entries) != 1 {
		t.Fatalf("alias entry: %v, %v", list, err)
	}
	alias := list.Entries[0]
	if alias.ParentId.Path != agent.ID.Path() || len(alias.Selectors) != 1 || alias.Selectors[0].Value != agent.ID.String() {
		t.Fatalf("unexpected alias entry %v", alias)
	}

	past := e.clock.Now().Add(-time.Minute).Unix()
	created := e.createEntries(
		// Workload under the alias ID.
		&types.Entry{SpiffeId: pid("/wl/under-alias"), ParentId: pid("/node/web"), Selectors: sels("unix:uid:1")},
		// Node entry matching the agent's selector, and a workload under it.
		&types.Entry{SpiffeId: pid("/node/group"), ParentId: pid("/spire/server"), Selectors: sels(agentSel)},
		&types.Entry{SpiffeId: pid("/wl/under-group"), ParentId: pid("/node/group"), Selectors: sels("unix:uid:2")},
		// Node entry that does not match.
		&types.Entry{SpiffeId: pid("/node/nomatch"), ParentId: pid("/spire/server"), Selectors: sels("spiffe_id:spiffe://example.org/nobody")},
		&types.Entry{SpiffeId: pid("/wl/under-nomatch"), ParentId: pid("/node/nomatch"), Selectors: sels("unix:uid:3")},
		// Expired entry under the agent.
		&types.Entry{SpiffeId: pid("/wl/expired"), ParentId: idOf(agent), Selectors: sels("unix:uid:4"), ExpiresAt: past},
	)
	want := sorted(alias.Id, created[0].Id, created[1].Id, created[2].Id)
	if got := authorizedIDs(t, e.tcpConn(agent)); !slices.Equal(got, want) {
		t.Fatalf("authorized %v, want %v", got, want)
	}
	if got := authorizedIDs(t, e.tcpConn(other)); len(got) != 0 {
		t.Fatalf("other agent authorized for %v", got)
	}
}

func TestNewEntryVisibleToPollingAgent(t *testing.T) {
	e := newEnv(t)
	agent := e.mustAttest("poller")
	conn := e.tcpConn(agent)
	if got := authorizedIDs(t, conn); len(got) != 0 {
		t.Fatalf("unexpected entries %v", got)
	}
	ent := e.createEntries(&types.Entry{SpiffeId: pid("/wl/new"), ParentId: idOf(agent), Selectors: sels("unix:uid:1")})[0]
	deadline := time.Now().Add(time.Second)
	for !slices.Contains(authorizedIDs(t, conn), ent.Id) {
		if time.Now().After(deadline) {
			t.Fatal("new entry not visible within 1s")
		}
	}
}

func TestAdminMethodsRefusedOnTCP(t *testing.T) {
	e := newEnv(t)
	agent := e.mustAttest("nosy")
	_, csr := newKeyCSR(t, "spiffe://example.org/x")
	tests := []struct {
		name string
		call func(conn *grpc.ClientConn) error
	}{
		{"CreateJoinToken", func(c *grpc.ClientConn) error {
			_, err := agentv1.NewAgentClient(c).CreateJoinToken(context.Background(), &agentv1.CreateJoinTokenRequest{Ttl: 60})
			return err
		}},
		{"ListAgents", func(c *grpc.ClientConn) error {
			_, err := agentv1.NewAgentClient(c).ListAgents(context.Background(), &agentv1.ListAgentsRequest{})
			return err
		}},
		{"BanAgent", func(c *grpc.ClientConn) error {
			_, err := agentv1.NewAgentClient(c).BanAgent(context.Background(), &agentv1.BanAgentRequest{Id: idOf(agent)})
			return err
		}},
		{"DeleteAgent", func(c *grpc.ClientConn) error {
			_, err := agentv1.NewAgentClient(c).DeleteAgent(context.Background(), &agentv1.DeleteAgentRequest{Id: idOf(agent)})
			return err
		}},
		{"BatchCreateEntry", func(c *grpc.ClientConn) error {
			_, err := entryv1.NewEntryClient(c).BatchCreateEntry(context.Background(), &entryv1.BatchCreateEntryRequest{})
			return err
		}},
		{"ListEntries", func(c *grpc.ClientConn) error {
			_, err := entryv1.NewEntryClient(c).ListEntries(context.Background(), &entryv1.ListEntriesRequest{})
			return err
		}},
		{"MintX509SVID", func(c *grpc.ClientConn) error {
			_, err := svidv1.NewSVIDClient(c).MintX509SVID(context.Background(), &svidv1.MintX509SVIDRequest{Csr: csr})
			return err
		}},
		{"MintJWTSVID", func(c *grpc.ClientConn) error {
			_, err := svidv1.NewSVIDClient(c).MintJWTSVID(context.Background(), &svidv1.MintJWTSVIDRequest{Id: pid("/x"), Audience: []string{"a"}})
			return err
		}},
		{"AppendBundle", func(c *grpc.ClientConn) error {
			_, err := bundlev1.NewBundleClient(c).AppendBundle(context.Background(), &bundlev1.AppendBundleRequest{})
			return err
		}},
	}
	conns := map[string]*grpc.ClientConn{"with agent SVID": e.tcpConn(agent), "without client cert": e.tcpConn(nil)}
	for connName, conn := range conns {
		for _, tt := range tests {
			t.Run(connName+"/"+tt.name, func(t *testing.T) {
				wantCode(t, tt.call(conn), codes.PermissionDenied)
			})
		}
	}
	// Agent methods without a client certificate are unauthenticated.
	_, err := entryv1.NewEntryClient(e.tcpConn(nil)).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
	wantCode(t, err, codes.Unauthenticated)
	// The agent was not banned or deleted by the refused calls.
	if got := authorizedIDs(t, e.tcpConn(agent)); len(got) != 0 {
		t.Fatalf("unexpected entries %v", got)
	}
}
