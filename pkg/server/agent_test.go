package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/svidkit/svidkit/pkg/server"
)

func TestAttestAgentJoinToken(t *testing.T) {
	e := newEnv(t)
	svid := e.mustAttest("tok-1")

	if got, want := svid.ID.String(), "spiffe://example.org/spire/agent/join_token/tok-1"; got != want {
		t.Fatalf("agent ID = %q, want %q", got, want)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, e.ca.Bundle()); err != nil {
		t.Fatalf("agent SVID does not verify: %v", err)
	}
	if ttl := svid.Certificates[0].NotAfter.Sub(e.clock.Now()); ttl > time.Hour || ttl < 59*time.Minute {
		t.Fatalf("agent SVID TTL = %v, want the 1h default", ttl)
	}
	a, err := agentv1.NewAgentClient(e.admin).GetAgent(context.Background(), &agentv1.GetAgentRequest{Id: idOf(svid)})
	if err != nil {
		t.Fatal(err)
	}
	if a.AttestationType != "join_token" || a.CanReattest || a.Banned {
		t.Fatalf("unexpected agent %v", a)
	}
	if a.X509SvidSerialNumber != svid.Certificates[0].SerialNumber.String() {
		t.Fatalf("serial = %q, want %q", a.X509SvidSerialNumber, svid.Certificates[0].SerialNumber)
	}
	if a.X509SvidExpiresAt != svid.Certificates[0].NotAfter.Unix() {
		t.Fatalf("expires_at = %d, want %d", a.X509SvidExpiresAt, svid.Certificates[0].NotAfter.Unix())
	}
	// The agent can now use its SVID.
	if _, err := entryv1.NewEntryClient(e.tcpConn(svid)).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{}); err != nil {
		t.Fatalf("GetAuthorizedEntries with fresh SVID: %v", err)
	}
}

func TestAttestAgentRejects(t *testing.T) {
	e := newEnv(t)
	e.mustAttest("used")
	e.createToken("short", 1, nil)
	e.createToken("valid", 600, nil)
	e.clock.Add(2 * time.Second)

	_, goodCSR := newKeyCSR(t)
	tests := []struct {
		name  string
		token string
		data  *types.AttestationData
		csr   []byte
		code  codes.Code
		msg   string
	}{
		{name: "reused token", token: "used", code: codes.InvalidArgument, msg: "already been used"},
		{name: "expired token", token: "short", code: codes.InvalidArgument, msg: "expired"},
		{name: "unknown token", token: "nope", code: codes.InvalidArgument, msg: "does not exist"},
		{name: "unsupported attestor", data: &types.AttestationData{Type: "aws_iid", Payload: []byte("x")}, code: codes.Unimplemented, msg: `"aws_iid"`},
		{name: "empty payload", data: &types.AttestationData{Type: "join_token"}, code: codes.InvalidArgument, msg: "params.data.payload"},
		{name: "bad CSR", token: "valid", csr: []byte("garbage"), code: codes.InvalidArgument, msg: "params.params.csr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == nil {
				data = joinTokenData(tt.token)
			}
			csr := tt.csr
			if csr == nil {
				csr = goodCSR
			}
			_, err := e.attestWith(tt.token, data, csr, nil)
			wantCode(t, err, tt.code)
			if !strings.Contains(status.Convert(err).Message(), tt.msg) {
				t.Fatalf("message %q does not mention %q", status.Convert(err).Message(), tt.msg)
			}
		})
	}
	// The bad CSR did not spend the token.
	if _, err := e.attest("valid"); err != nil {
		t.Fatalf("token was spent by a failed attestation: %v", err)
	}
}

func TestRenewAgent(t *testing.T) {
	e := newEnv(t)
	old := e.mustAttest("renew")
	key, csr := newKeyCSR(t)
	resp, err := agentv1.NewAgentClient(e.tcpConn(old)).RenewAgent(context.Background(),
		&agentv1.RenewAgentRequest{Params: &agentv1.AgentX509SVIDParams{Csr: csr}})
	if err != nil {
		t.Fatalf("RenewAgent: %v", err)
	}
	renewed := svidFrom(t, resp.Svid, key)
	if renewed.ID != old.ID {
		t.Fatalf("renewed ID %q != %q", renewed.ID, old.ID)
	}
	get := func(svid *x509svid.SVID) error {
		_, err := entryv1.NewEntryClient(e.tcpConn(svid)).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
		return err
	}
	// Until the new SVID is used, the old one still works.
	if err := get(old); err != nil {
		t.Fatalf("old SVID before first use of new: %v", err)
	}
	if err := get(renewed); err != nil {
		t.Fatalf("new SVID: %v", err)
	}
	a, err := agentv1.NewAgentClient(e.admin).GetAgent(context.Background(), &agentv1.GetAgentRequest{Id: idOf(old)})
	if err != nil {
		t.Fatal(err)
	}
	if a.X509SvidSerialNumber != renewed.Certificates[0].SerialNumber.String() {
		t.Fatalf("serial not promoted: %q", a.X509SvidSerialNumber)
	}
	// After promotion the old SVID is no longer active.
	err = get(old)
	wantCode(t, err, codes.PermissionDenied)
	assertReason(t, err, types.PermissionDeniedDetails_AGENT_NOT_ACTIVE)
	// Bad CSR.
	_, err = agentv1.NewAgentClient(e.tcpConn(renewed)).RenewAgent(context.Background(),
		&agentv1.RenewAgentRequest{Params: &agentv1.AgentX509SVIDParams{Csr: []byte{1, 2}}})
	wantCode(t, err, codes.InvalidArgument)
}

func assertReason(t *testing.T, err error, want types.PermissionDeniedDetails_Reason) {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if pd, ok := d.(*types.PermissionDeniedDetails); ok {
			if pd.Reason != want {
				t.Fatalf("reason = %v, want %v", pd.Reason, want)
			}
			return
		}
	}
	t.Fatalf("no PermissionDeniedDetails in %v", err)
}

func TestBannedAndDeletedAgentsRefused(t *testing.T) {
	tests := []struct {
		name   string
		act    func(e *env, id *types.SPIFFEID) error
		reason types.PermissionDeniedDetails_Reason
	}{
		{name: "banned", reason: types.PermissionDeniedDetails_AGENT_BANNED, act: func(e *env, id *types.SPIFFEID) error {
			_, err := agentv1.NewAgentClient(e.admin).BanAgent(context.Background(), &agentv1.BanAgentRequest{Id: id})
			return err
		}},
		{name: "deleted", reason: types.PermissionDeniedDetails_AGENT_NOT_ATTESTED, act: func(e *env, id *types.SPIFFEID) error {
			_, err := agentv1.NewAgentClient(e.admin).DeleteAgent(context.Background(), &agentv1.DeleteAgentRequest{Id: id})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			svid := e.mustAttest("victim")
			client := entryv1.NewEntryClient(e.tcpConn(svid))
			if _, err := client.GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{}); err != nil {
				t.Fatal(err)
			}
			if err := tt.act(e, idOf(svid)); err != nil {
				t.Fatal(err)
			}
			// Same connection, next request: refused at once.
			_, err := client.GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
			wantCode(t, err, codes.PermissionDenied)
			assertReason(t, err, tt.reason)
		})
	}
}

func TestBannedAgentCannotReattest(t *testing.T) {
	e := newEnv(t)
	svid := e.mustAttest("banme")
	if _, err := agentv1.NewAgentClient(e.admin).BanAgent(context.Background(), &agentv1.BanAgentRequest{Id: idOf(svid)}); err != nil {
		t.Fatal(err)
	}
	e.createToken("banme", 600, nil)
	_, err := e.attest("banme")
	wantCode(t, err, codes.PermissionDenied)
}

func TestListAndCountAgents(t *testing.T) {
	e := newEnv(t)
	a := e.mustAttest("a")
	e.mustAttest("b")
	e.mustAttest("c")
	client := agentv1.NewAgentClient(e.admin)
	if _, err := client.BanAgent(context.Background(), &agentv1.BanAgentRequest{Id: idOf(a)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter *agentv1.ListAgentsRequest_Filter
		want   int
	}{
		{name: "all", want: 3},
		{name: "banned", filter: &agentv1.ListAgentsRequest_Filter{ByBanned: wrapperspb.Bool(true)}, want: 1},
		{name: "not banned", filter: &agentv1.ListAgentsRequest_Filter{ByBanned: wrapperspb.Bool(false)}, want: 2},
		{name: "join_token", filter: &agentv1.ListAgentsRequest_Filter{ByAttestationType: "join_token"}, want: 3},
		{name: "other type", filter: &agentv1.ListAgentsRequest_Filter{ByAttestationType: "k8s_psat"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.ListAgents(context.Background(), &agentv1.ListAgentsRequest{Filter: tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Agents) != tt.want {
				t.Fatalf("got %d agents, want %d", len(resp.Agents), tt.want)
			}
		})
	}
	var seen []string
	token := ""
	for {
		resp, err := client.ListAgents(context.Background(), &agentv1.ListAgentsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range resp.Agents {
			seen = append(seen, a.Id.Path)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if len(seen) != 3 {
		t.Fatalf("paging saw %v", seen)
	}
	cnt, err := client.CountAgents(context.Background(), &agentv1.CountAgentsRequest{})
	if err != nil || cnt.Count != 3 {
		t.Fatalf("CountAgents = %v, %v", cnt, err)
	}
}

// TestJoinTokenDisabled: a server configured without the join_token
// attestor refuses join tokens, even ones an admin created.
func TestJoinTokenDisabled(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.DisableJoinToken = true })
	tok := e.createToken("", 600, nil)
	_, err := e.attest(tok)
	wantCode(t, err, codes.Unimplemented)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, `node attestor "join_token" is not supported`) {
		t.Fatalf("message %q does not say join_token is not served", msg)
	}
}

// TestAttestationRateLimit: by default one client IP gets one AttestAgent
// per second (SPIRE's ratelimit { attestation = true }); a second one at
// once waits, and fails with ResourceExhausted when its deadline is
// shorter than the wait.
func TestAttestationRateLimit(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.DisableAttestationRateLimit = false })
	e.mustAttest("limit-1")
	tok := e.createToken("limit-2", 600, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	stream, err := agentv1.NewAgentClient(e.tcpConn(nil)).AttestAgent(ctx)
	if err == nil {
		_, csr := newKeyCSR(t)
		// A Send to a stream the server already ended fails with EOF;
		// Recv then returns the server's status.
		_ = stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{
			Params: &agentv1.AttestAgentRequest_Params{Data: joinTokenData(tok), Params: &agentv1.AgentX509SVIDParams{Csr: csr}},
		}})
		_, err = stream.Recv()
	}
	wantCode(t, err, codes.ResourceExhausted)
	// Waiting callers are served in turn: the token is still unspent.
	if _, err := e.attest(tok); err != nil {
		t.Fatalf("attestation after the wait: %v", err)
	}
}
