package server_test

import (
	"context"
	"strings"
	"testing"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// reservedPaths are paths in SPIRE's reserved namespace: the server's own
// ID, below it, the agent namespace and the namespace root.
var reservedPaths = []string{"/spire/server", "/spire/server/x", "/spire/agent/x", "/spire"}

// wantReserved fails unless err is InvalidArgument saying the ID is
// reserved.
func wantReserved(t *testing.T, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "reserved") {
		t.Fatalf("got %v, want InvalidArgument naming the reserved namespace", err)
	}
}

// TestJoinTokenAliasCannotBeTheServerID reproduces issue 10 finding 9: a
// join token whose alias is spiffe://td/spire/server let its agent mint an
// X.509-SVID carrying the ID agents use to authenticate the server. The
// token must be refused; if it is not, the test shows the certificate.
func TestJoinTokenAliasCannotBeTheServerID(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := agentv1.NewAgentClient(e.admin).CreateJoinToken(ctx,
		&agentv1.CreateJoinTokenRequest{Token: "alias-attack", Ttl: 600, AgentId: pid("/spire/server")})
	if err == nil {
		agent, err := e.attest("alias-attack")
		if err != nil {
			t.Fatalf("CreateJoinToken accepted the server ID as alias (attest: %v)", err)
		}
		conn := e.tcpConn(agent)
		auth, err := entryv1.NewEntryClient(conn).GetAuthorizedEntries(ctx, &entryv1.GetAuthorizedEntriesRequest{})
		if err != nil || len(auth.Entries) == 0 {
			t.Fatalf("CreateJoinToken accepted the server ID as alias (authorized entries %v, %v)", auth, err)
		}
		_, csr := newKeyCSR(t)
		resp, err := svidv1.NewSVIDClient(conn).BatchNewX509SVID(ctx, &svidv1.BatchNewX509SVIDRequest{
			Params: []*svidv1.NewX509SVIDParams{{EntryId: auth.Entries[0].Id, Csr: csr}},
		})
		if err != nil || resp.Results[0].Svid == nil {
			t.Fatalf("CreateJoinToken accepted the server ID as alias (mint: %v %v)", resp, err)
		}
		minted := svidFrom(t, resp.Results[0].Svid, nil)
		t.Fatalf("CreateJoinToken accepted the server ID as alias; its agent minted a certificate for %s (serial %s)",
			minted.Certificates[0].URIs[0], minted.Certificates[0].SerialNumber)
	}
	wantReserved(t, err)
}

// TestReservedIDsRefused: entries, join-token aliases and admin mints may
// not use the reserved /spire namespace for the identity they name, as in
// SPIRE; agent IDs under it remain valid parents.
func TestReservedIDsRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agents := agentv1.NewAgentClient(e.admin)
	entries := entryv1.NewEntryClient(e.admin)
	svids := svidv1.NewSVIDClient(e.admin)
	for _, path := range reservedPaths {
		t.Run(path, func(t *testing.T) {
			t.Run("join token alias", func(t *testing.T) {
				_, err := agents.CreateJoinToken(ctx, &agentv1.CreateJoinTokenRequest{Ttl: 600, AgentId: pid(path)})
				wantReserved(t, err)
			})
			t.Run("entry", func(t *testing.T) {
				resp, err := entries.BatchCreateEntry(ctx, &entryv1.BatchCreateEntryRequest{Entries: []*types.Entry{
					{SpiffeId: pid(path), ParentId: pid("/spire/server"), Selectors: sels("unix:uid:1")},
				}})
				if err != nil {
					t.Fatal(err)
				}
				st := resp.Results[0].Status
				wantReserved(t, status.Error(codes.Code(st.Code), st.Message))
			})
			t.Run("mint X509-SVID", func(t *testing.T) {
				_, csr := newKeyCSR(t, "spiffe://"+td.Name()+path)
				_, err := svids.MintX509SVID(ctx, &svidv1.MintX509SVIDRequest{Csr: csr})
				wantReserved(t, err)
			})
			t.Run("mint JWT-SVID", func(t *testing.T) {
				_, err := svids.MintJWTSVID(ctx, &svidv1.MintJWTSVIDRequest{Id: pid(path), Audience: []string{"a"}})
				wantReserved(t, err)
			})
		})
	}
	t.Run("near misses are workload IDs", func(t *testing.T) {
		e.createEntries(
			&types.Entry{SpiffeId: pid("/spire-app"), ParentId: pid("/spire/agent/x"), Selectors: sels("unix:uid:1")},
			&types.Entry{SpiffeId: pid("/app/spire/server"), ParentId: pid("/spire/server"), Selectors: sels("unix:uid:1")},
		)
	})
}

// TestStoredReservedEntryNotSigned: an entry in the reserved namespace
// that reached the store before such entries were refused (written here
// straight to the store) yields no SVID: the signing edge refuses it too.
func TestStoredReservedEntryNotSigned(t *testing.T) {
	e := newEnv(t)
	agent := e.mustAttest("old-entry")
	stored, err := e.store.CreateEntry(context.Background(), &datastore.Entry{
		SPIFFEID: "spiffe://" + td.Name() + "/spire/server", ParentID: agent.ID.String(),
		Selectors: selector.NewSet(selector.Selector{Type: "unix", Value: "uid:1"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, csr := newKeyCSR(t)
	resp, err := svidv1.NewSVIDClient(e.tcpConn(agent)).BatchNewX509SVID(context.Background(), &svidv1.BatchNewX509SVIDRequest{
		Params: []*svidv1.NewX509SVIDParams{{EntryId: stored.ID, Csr: csr}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.Results[0]; r.Svid != nil || codes.Code(r.Status.Code) == codes.OK {
		t.Fatalf("stored reserved entry minted %v (%v)", r.Svid.GetId(), r.Status)
	}
}
