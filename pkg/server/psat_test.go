package server_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/svidkit/svidkit/internal/fakekube"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
	"github.com/svidkit/svidkit/pkg/server/nodeattest/k8spsat"
)

// psatEnv is a server with the k8s_psat attestor on a fake apiserver that
// holds agent pods on nodes node-1 (zone eu-1) and node-2 (zone us-1).
type psatEnv struct {
	*env
	api *fakekube.Server
}

func newPSATEnv(t *testing.T, opts ...envOption) *psatEnv {
	t.Helper()
	api := fakekube.New(t)
	att, err := k8spsat.New(k8spsat.Config{
		TrustDomain: td,
		Clusters: map[string]k8spsat.Cluster{"demo": {
			ServiceAccountAllowList: []string{"spire:spire-agent"},
			KubeConfigFile:          api.Kubeconfig(t, t.TempDir()),
			AllowedNodeLabelKeys:    []string{"zone"},
			AllowedPodLabelKeys:     []string{"app"},
		}},
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &psatEnv{api: api}
	for i, zone := range []string{"eu-1", "us-1"} {
		n := string(rune('1' + i))
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + n, UID: k8stypes.UID("node-uid-" + n), Labels: map[string]string{"zone": zone}}}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "spire", Name: "agent-" + n, UID: k8stypes.UID("pod-uid-" + n), Labels: map[string]string{"app": "spire-agent"}},
			Spec:       corev1.PodSpec{NodeName: node.Name, ServiceAccountName: "spire-agent"},
			Status:     corev1.PodStatus{HostIP: "10.0.0." + n},
		}
		api.PutNode(node)
		api.PutPod(pod)
		api.AddToken("token-"+n, fakekube.Token{Audiences: []string{"spire-server"}, User: fakekube.BoundUser(pod, node)})
		if n == "1" {
			api.AddToken("wrong-audience", fakekube.Token{Audiences: []string{"vault"}, User: fakekube.BoundUser(pod, node)})
			other := pod.DeepCopy()
			other.Spec.ServiceAccountName = "default"
			api.AddToken("other-sa", fakekube.Token{Audiences: []string{"spire-server"}, User: fakekube.BoundUser(other, node)})
		}
	}
	p.env = newEnv(t, append([]envOption{func(c *server.Config) { c.NodeAttestors = append(c.NodeAttestors, att) }}, opts...)...)
	return p
}

// attestPSAT runs k8s_psat attestation with token over TCP and returns
// the SVID and whether the server called the agent reattestable.
func (p *psatEnv) attestPSAT(cluster, token string) (*x509svid.SVID, bool, error) {
	p.t.Helper()
	payload, err := json.Marshal(map[string]string{"cluster": cluster, "token": token})
	if err != nil {
		p.t.Fatal(err)
	}
	key, csr := newKeyCSR(p.t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := agentv1.NewAgentClient(p.tcpConn(nil)).AttestAgent(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{
		Params: &agentv1.AttestAgentRequest_Params{
			Data:   &types.AttestationData{Type: "k8s_psat", Payload: payload},
			Params: &agentv1.AgentX509SVIDParams{Csr: csr},
		},
	}}); err != nil {
		return nil, false, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, false, err
	}
	return svidFrom(p.t, resp.GetResult().GetSvid(), key), resp.GetResult().GetReattestable(), nil
}

func (p *psatEnv) mustAttestPSAT(token string) *x509svid.SVID {
	p.t.Helper()
	svid, reattestable, err := p.attestPSAT("demo", token)
	if err != nil {
		p.t.Fatalf("attest with %q: %v", token, err)
	}
	if !reattestable {
		p.t.Fatal("k8s_psat agent not reattestable")
	}
	return svid
}

func (p *psatEnv) getAgent(svid *x509svid.SVID) *types.Agent {
	p.t.Helper()
	a, err := agentv1.NewAgentClient(p.admin).GetAgent(context.Background(), &agentv1.GetAgentRequest{Id: idOf(svid)})
	if err != nil {
		p.t.Fatal(err)
	}
	return a
}

func selectorStrings(in []*types.Selector) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = s.Type + ":" + s.Value
	}
	slices.Sort(out)
	return out
}

func TestAttestAgentK8sPSAT(t *testing.T) {
	p := newPSATEnv(t)
	svid := p.mustAttestPSAT("token-1")
	if got, want := svid.ID.String(), "spiffe://example.org/spire/agent/k8s_psat/demo/node-uid-1"; got != want {
		t.Fatalf("agent ID = %q, want %q", got, want)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, p.ca.Bundle()); err != nil {
		t.Fatalf("agent SVID does not verify: %v", err)
	}
	a := p.getAgent(svid)
	if a.AttestationType != "k8s_psat" || !a.CanReattest || a.Banned {
		t.Fatalf("agent = %v, want k8s_psat, reattestable, not banned", a)
	}
	want := []string{
		"k8s_psat:agent_node_ip:10.0.0.1",
		"k8s_psat:agent_node_label:zone:eu-1",
		"k8s_psat:agent_node_name:node-1",
		"k8s_psat:agent_node_uid:node-uid-1",
		"k8s_psat:agent_ns:spire",
		"k8s_psat:agent_pod_label:app:spire-agent",
		"k8s_psat:agent_pod_name:agent-1",
		"k8s_psat:agent_pod_uid:pod-uid-1",
		"k8s_psat:agent_sa:spire-agent",
		"k8s_psat:cluster:demo",
		"spiffe_id:spiffe://example.org/spire/agent/k8s_psat/demo/node-uid-1",
	}
	if got := selectorStrings(a.Selectors); !slices.Equal(got, want) {
		t.Fatalf("selectors:\n got %q\nwant %q", got, want)
	}
	// The SVID works, and renewal is refused: PSAT agents re-attest.
	conn := p.tcpConn(svid)
	if _, err := entryv1.NewEntryClient(conn).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{}); err != nil {
		t.Fatalf("GetAuthorizedEntries: %v", err)
	}
	_, csr := newKeyCSR(t)
	_, err := agentv1.NewAgentClient(conn).RenewAgent(context.Background(), &agentv1.RenewAgentRequest{Params: &agentv1.AgentX509SVIDParams{Csr: csr}})
	wantCode(t, err, codes.PermissionDenied)
	assertReason(t, err, types.PermissionDeniedDetails_AGENT_MUST_REATTEST)
	// Join tokens still work next to k8s_psat.
	p.mustAttest("join")
}

func TestAttestAgentK8sPSATRefused(t *testing.T) {
	p := newPSATEnv(t)
	tests := []struct {
		name, cluster, token string
		code                 codes.Code
		msg                  string
	}{
		{name: "wrong audience", cluster: "demo", token: "wrong-audience", code: codes.PermissionDenied, msg: `token audiences ["vault"] is invalid for the target audiences ["spire-server"]`},
		{name: "service account not allowed", cluster: "demo", token: "other-sa", code: codes.PermissionDenied, msg: `service account "spire:default" is not in service_account_allow_list`},
		{name: "unauthenticated", cluster: "demo", token: "forged", code: codes.PermissionDenied, msg: "token not authenticated"},
		{name: "unknown cluster", cluster: "prod", token: "token-1", code: codes.InvalidArgument, msg: `cluster "prod" is not configured`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := p.attestPSAT(tt.cluster, tt.token)
			wantCode(t, err, tt.code)
			if msg := status.Convert(err).Message(); !strings.HasPrefix(msg, "failed to attest: k8s_psat: ") || !strings.Contains(msg, tt.msg) {
				t.Fatalf("message %q does not name the problem %q", msg, tt.msg)
			}
		})
	}
	t.Run("apiserver down", func(t *testing.T) {
		p.api.SetFailing(true)
		defer p.api.SetFailing(false)
		_, _, err := p.attestPSAT("demo", "token-1")
		wantCode(t, err, codes.Internal)
	})
}

func TestReattestK8sPSAT(t *testing.T) {
	p := newPSATEnv(t)
	first := p.mustAttestPSAT("token-1")
	before := p.getAgent(first)

	// The node is relabelled; the agent re-attests with a fresh token.
	p.api.PutNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", UID: "node-uid-1", Labels: map[string]string{"zone": "eu-2"}}})
	second := p.mustAttestPSAT("token-1")
	if second.ID != first.ID {
		t.Fatalf("re-attested as %q, want %q", second.ID, first.ID)
	}
	after := p.getAgent(second)
	if after.X509SvidSerialNumber != second.Certificates[0].SerialNumber.String() || after.X509SvidSerialNumber == before.X509SvidSerialNumber {
		t.Fatalf("serial = %q, want the new SVID's %q", after.X509SvidSerialNumber, second.Certificates[0].SerialNumber)
	}
	got := selectorStrings(after.Selectors)
	if !slices.Contains(got, "k8s_psat:agent_node_label:zone:eu-2") || slices.Contains(got, "k8s_psat:agent_node_label:zone:eu-1") {
		t.Fatalf("selectors not updated: %q", got)
	}
	// Only the new SVID is active.
	_, err := entryv1.NewEntryClient(p.tcpConn(first)).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{})
	wantCode(t, err, codes.PermissionDenied)
	assertReason(t, err, types.PermissionDeniedDetails_AGENT_NOT_ACTIVE)
	if _, err := entryv1.NewEntryClient(p.tcpConn(second)).GetAuthorizedEntries(context.Background(), &entryv1.GetAuthorizedEntriesRequest{}); err != nil {
		t.Fatalf("new SVID: %v", err)
	}
	agents, err := agentv1.NewAgentClient(p.admin).CountAgents(context.Background(), &agentv1.CountAgentsRequest{})
	if err != nil || agents.Count != 1 {
		t.Fatalf("CountAgents = %v, %v; want 1", agents, err)
	}
}

func TestBannedK8sPSATAgentRefused(t *testing.T) {
	p := newPSATEnv(t)
	svid := p.mustAttestPSAT("token-1")
	if _, err := agentv1.NewAgentClient(p.admin).BanAgent(context.Background(), &agentv1.BanAgentRequest{Id: idOf(svid)}); err != nil {
		t.Fatal(err)
	}
	_, _, err := p.attestPSAT("demo", "token-1")
	wantCode(t, err, codes.PermissionDenied)
	assertReason(t, err, types.PermissionDeniedDetails_AGENT_BANNED)
	if a := p.getAgent(svid); !a.Banned || a.X509SvidSerialNumber != "" {
		t.Fatalf("banned agent changed by refused attestation: %v", a)
	}
	// Deleting the agent lets it attest again.
	if _, err := agentv1.NewAgentClient(p.admin).DeleteAgent(context.Background(), &agentv1.DeleteAgentRequest{Id: idOf(svid)}); err != nil {
		t.Fatal(err)
	}
	p.mustAttestPSAT("token-1")
}

func TestK8sPSATNodeEntryAuthorization(t *testing.T) {
	p := newPSATEnv(t)
	eu := p.mustAttestPSAT("token-1")
	us := p.mustAttestPSAT("token-2")
	joined := p.mustAttest("join")

	created := p.createEntries(
		// Every agent of the cluster.
		&types.Entry{SpiffeId: pid("/k8s/demo/nodes"), ParentId: pid("/spire/server"), Selectors: sels("k8s_psat:cluster:demo")},
		&types.Entry{SpiffeId: pid("/wl/everywhere"), ParentId: pid("/k8s/demo/nodes"), Selectors: sels("k8s:ns:default")},
		// Only agents in zone eu-1 running as spire-agent.
		&types.Entry{SpiffeId: pid("/k8s/demo/eu"), ParentId: pid("/spire/server"), Selectors: sels("k8s_psat:cluster:demo", "k8s_psat:agent_node_label:zone:eu-1", "k8s_psat:agent_sa:spire-agent")},
		&types.Entry{SpiffeId: pid("/wl/eu-only"), ParentId: pid("/k8s/demo/eu"), Selectors: sels("k8s:ns:billing")},
		// Another cluster.
		&types.Entry{SpiffeId: pid("/k8s/prod/nodes"), ParentId: pid("/spire/server"), Selectors: sels("k8s_psat:cluster:prod")},
		&types.Entry{SpiffeId: pid("/wl/prod"), ParentId: pid("/k8s/prod/nodes"), Selectors: sels("k8s:ns:default")},
	)
	all, everywhere, euNode, euOnly := created[0].Id, created[1].Id, created[2].Id, created[3].Id
	tests := []struct {
		name  string
		agent *x509svid.SVID
		want  []string
	}{
		{name: "eu-1 agent", agent: eu, want: sorted(all, everywhere, euNode, euOnly)},
		{name: "us-1 agent", agent: us, want: sorted(all, everywhere)},
		{name: "join token agent", agent: joined},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := authorizedIDs(t, p.tcpConn(tt.agent)); !slices.Equal(got, tt.want) {
				t.Fatalf("authorized %v, want %v", got, tt.want)
			}
		})
	}
}

// namedAttestor is an attestor that refuses everything, for config tests.
type namedAttestor string

func (n namedAttestor) Type() string { return string(n) }
func (n namedAttestor) Attest(context.Context, []byte) (nodeattest.Result, error) {
	return nodeattest.Result{}, nodeattest.Denied("refused")
}

// fixedAttestor admits every payload as id.
type fixedAttestor struct{ id spiffeid.ID }

func (fixedAttestor) Type() string { return "fixed" }
func (f fixedAttestor) Attest(context.Context, []byte) (nodeattest.Result, error) {
	return nodeattest.Result{AgentID: f.id}, nil
}

func TestAttestorResultChecked(t *testing.T) {
	tests := []struct {
		name string
		id   spiffeid.ID
		code codes.Code
	}{
		{name: "agent ID", id: spiffeid.RequireFromPath(td, "/spire/agent/fixed/a"), code: codes.OK},
		{name: "not an agent path", id: spiffeid.RequireFromPath(td, "/workload"), code: codes.Internal},
		{name: "other trust domain", id: spiffeid.RequireFromString("spiffe://evil.org/spire/agent/fixed/a"), code: codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *server.Config) { c.NodeAttestors = []nodeattest.Attestor{fixedAttestor{tt.id}} })
			key, csr := newKeyCSR(t)
			_, err := e.attestWith("", &types.AttestationData{Type: "fixed", Payload: []byte("x")}, csr, key)
			wantCode(t, err, tt.code)
		})
	}
}

func TestNodeAttestorConfig(t *testing.T) {
	parts := newEnvParts(t)
	tests := []struct {
		name      string
		attestors []nodeattest.Attestor
		msg       string
	}{
		{name: "twice", attestors: []nodeattest.Attestor{namedAttestor("k8s_psat"), namedAttestor("k8s_psat")}, msg: `node attestor "k8s_psat" is configured twice`},
		{name: "join_token is built in", attestors: []nodeattest.Attestor{namedAttestor("join_token")}, msg: `node attestor "join_token" is configured twice`},
		{name: "nil", attestors: []nodeattest.Attestor{nil}, msg: "node attestor 0 is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := server.New(server.Config{
				TrustDomain: td, Store: parts.store, Authority: parts.ca, BindAddress: "127.0.0.1:0",
				SocketPath: "/tmp/unused.sock", NodeAttestors: tt.attestors,
			})
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("New error = %v, want %q", err, tt.msg)
			}
		})
	}
}

// banningAuthority bans an agent while the server signs its re-attested
// SVID: an admin's BanAgent landing between the attestation's ban check
// and its write.
type banningAuthority struct {
	server.Authority
	ban func(id string)
}

func (b banningAuthority) SignX509SVID(ctx context.Context, p ca.X509SVIDParams) ([]*x509.Certificate, error) {
	if b.ban != nil {
		b.ban(p.SPIFFEID.String())
	}
	return b.Authority.SignX509SVID(ctx, p)
}

// TestBanDuringReattestationHolds: a ban that lands while a re-attestation
// is being signed is not overwritten by it.
func TestBanDuringReattestationHolds(t *testing.T) {
	var banNow atomic.Pointer[func(string)]
	p := newPSATEnv(t, func(c *server.Config) {
		c.Authority = banningAuthority{Authority: c.Authority, ban: func(id string) {
			if f := banNow.Load(); f != nil {
				(*f)(id)
			}
		}}
	})
	svid := p.mustAttestPSAT("token-1")
	ban := func(id string) {
		if _, err := agentv1.NewAgentClient(p.admin).BanAgent(context.Background(), &agentv1.BanAgentRequest{Id: idOf(svid)}); err != nil {
			t.Errorf("BanAgent: %v", err)
		}
	}
	banNow.Store(&ban)
	_, _, err := p.attestPSAT("demo", "token-1")
	banNow.Store(nil)
	wantCode(t, err, codes.PermissionDenied)
	assertReason(t, err, types.PermissionDeniedDetails_AGENT_BANNED)
	if a := p.getAgent(svid); !a.Banned {
		t.Fatalf("ban lost to a concurrent re-attestation: %v", a)
	}
}
