package agent_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server/ca"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

// agentRecord is what the fake server knows about an attested agent.
type agentRecord struct {
	serial, newSerial *big.Int
}

// fakeServer implements the spire-api-sdk RPCs the agent uses, over real
// gRPC and TLS with a test CA on the test clock, for the tests that must
// inject what the real server (internal/testenv, see realserver_test.go)
// cannot be made to do: a wrong server SPIFFE ID, reusable join tokens, k8s_psat tokens accepted or refused on demand,
// attestation errors, AGENT_MUST_REATTEST, a held BatchNewX509SVID, no
// long-poll extension (as a SPIRE server), a page size of 2, and a record
// of what the agent asked. It does not hold syncs.
type fakeServer struct {
	t        testing.TB
	clk      *testclock.Clock
	ca       *testca.CA
	addr     string
	agentTTL time.Duration
	pageSize int // below it, sync sends full entries; at or above, revisions

	mu           sync.Mutex
	tokens       map[string]bool // token -> reusable
	agents       map[spiffeid.ID]*agentRecord
	entries      map[string]*types.Entry
	attests      int
	renewals     int
	requestedIDs [][]string
	lastSerial   *big.Int // serial of the last authenticated agent call

	// syncs receives the metadata of every SyncAuthorizedEntries call;
	// calls beyond its buffer are not recorded.
	syncs chan metadata.MD

	// psatTokens maps the service account tokens k8s_psat attestation
	// accepts to the node they identify.
	psatTokens map[string]string
	// attestData records the attestation data of every AttestAgent call.
	attestData []*types.AttestationData
	// attestErrs are returned, first to last, by the next AttestAgent
	// calls (after they are recorded in attestData).
	attestErrs []error
	// mustReattest makes authenticated calls of these agents fail with
	// AGENT_MUST_REATTEST until they attest again.
	mustReattest map[spiffeid.ID]bool
	// hold, when non-nil, makes BatchNewX509SVID wait until it is closed;
	// held is signalled when a call starts waiting.
	hold chan struct{}
	held chan struct{}
}

type fakeServerConfig struct {
	agentTTL time.Duration
	pageSize int
	serverID string // defaults to spiffe://example.org/spire/server
}

func newFakeServer(t testing.TB, clk *testclock.Clock, cfg fakeServerConfig) *fakeServer {
	t.Helper()
	if cfg.agentTTL == 0 {
		cfg.agentTTL = time.Hour
	}
	if cfg.pageSize == 0 {
		cfg.pageSize = 100
	}
	if cfg.serverID == "" {
		cfg.serverID = "spiffe://example.org/spire/server"
	}
	s := &fakeServer{
		t: t, clk: clk, agentTTL: cfg.agentTTL, pageSize: cfg.pageSize,
		tokens:  make(map[string]bool),
		agents:  make(map[spiffeid.ID]*agentRecord),
		entries: make(map[string]*types.Entry),
		syncs:   make(chan metadata.MD, 1000),

		psatTokens:   make(map[string]string),
		mustReattest: make(map[spiffeid.ID]bool),
	}
	// The CA runs on the test clock, so that SVIDs follow test time; its
	// root is valid for a day from the start, longer than any test jumps.
	authority, err := testca.New(td, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	s.ca = authority
	serverSVID := authority.MintX509SVID(t, spiffeid.RequireFromString(cfg.serverID), testca.SVIDOptions{
		NotAfter: clk.Now().Add(1000 * time.Hour),
	})
	pool := x509.NewCertPool()
	pool.AddCert(authority.Root())
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverSVID.Certificates[0].Raw}, PrivateKey: serverSVID.PrivateKey}},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		Time:         clk.Now, // client SVIDs follow test time
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = lis.Addr().String()
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsCfg)))
	agentv1.RegisterAgentServer(gs, agentService{s: s})
	entryv1.RegisterEntryServer(gs, entryService{s: s})
	svidv1.RegisterSVIDServer(gs, svidService{s: s})
	bundlev1.RegisterBundleServer(gs, bundleService{s: s})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-served
	})
	return s
}

// signCSR issues an SVID for id with the CSR's public key, valid from the
// test clock's now for ttl.
func (s *fakeServer) signCSR(csr []byte, id spiffeid.ID, ttl time.Duration) (*types.X509SVID, *big.Int, error) {
	req, err := x509.ParseCertificateRequest(csr)
	if err != nil {
		return nil, nil, status.Errorf(codes.InvalidArgument, "csr: %v", err)
	}
	chain, err := s.ca.SignX509SVID(context.Background(), ca.X509SVIDParams{SPIFFEID: id, PublicKey: req.PublicKey, TTL: ttl})
	if err != nil {
		return nil, nil, status.Errorf(codes.Internal, "sign: %v", err)
	}
	c := chain[0]
	return &types.X509SVID{
		CertChain: [][]byte{c.Raw},
		Id:        &types.SPIFFEID{TrustDomain: id.TrustDomain().Name(), Path: id.Path()},
		ExpiresAt: c.NotAfter.Unix(),
	}, c.SerialNumber, nil
}

// caller authenticates an agent call by its client certificate, promoting a
// renewed SVID on its first use as SPIRE does.
func (s *fakeServer) caller(ctx context.Context) (spiffeid.ID, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return spiffeid.ID{}, status.Error(codes.PermissionDenied, "no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 {
		return spiffeid.ID{}, status.Error(codes.PermissionDenied, "no client certificate")
	}
	leaf := ti.State.PeerCertificates[0]
	id, err := x509svid.IDFromCert(leaf)
	if err != nil {
		return spiffeid.ID{}, status.Errorf(codes.PermissionDenied, "client certificate: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.agents[id]
	switch {
	case !ok:
		return spiffeid.ID{}, status.Errorf(codes.PermissionDenied, "agent %s is not attested", id)
	case rec.newSerial != nil && leaf.SerialNumber.Cmp(rec.newSerial) == 0:
		rec.serial, rec.newSerial = rec.newSerial, nil
	case leaf.SerialNumber.Cmp(rec.serial) != 0:
		return spiffeid.ID{}, status.Errorf(codes.PermissionDenied, "agent %s SVID is not active", id)
	case s.mustReattest[id]:
		st, err := status.New(codes.PermissionDenied, "agent must reattest").WithDetails(
			&types.PermissionDeniedDetails{Reason: types.PermissionDeniedDetails_AGENT_MUST_REATTEST})
		if err != nil {
			return spiffeid.ID{}, err
		}
		return spiffeid.ID{}, st.Err()
	}
	s.lastSerial = leaf.SerialNumber
	return id, nil
}

// addToken adds a join token; reusable ones survive attestation.
func (s *fakeServer) addToken(token string, reusable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = reusable
}

// setEntry creates or updates an entry, bumping its revision.
func (s *fakeServer) setEntry(id, path string, sels ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &types.Entry{
		Id:        id,
		SpiffeId:  &types.SPIFFEID{TrustDomain: td.Name(), Path: path},
		ParentId:  &types.SPIFFEID{TrustDomain: td.Name(), Path: "/spire/agent/join_token/token"},
		CreatedAt: s.clk.Now().Unix(),
	}
	if old, ok := s.entries[id]; ok {
		e.RevisionNumber = old.RevisionNumber + 1
		e.CreatedAt = old.CreatedAt
	}
	for _, sel := range sels {
		typ, val, _ := strings.Cut(sel, ":")
		e.Selectors = append(e.Selectors, &types.Selector{Type: typ, Value: val})
	}
	s.entries[id] = e
}

func (s *fakeServer) deleteEntry(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, id)
}

// evictAll forgets every agent, as if they were deleted on the server.
func (s *fakeServer) evictAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.agents)
}

func (s *fakeServer) counts() (attests, renewals int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attests, s.renewals
}

func (s *fakeServer) sortedEntries() []*types.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*types.Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *types.Entry) int { return strings.Compare(a.Id, b.Id) })
	return out
}

type agentService struct {
	agentv1.UnimplementedAgentServer
	s *fakeServer
}

func (a agentService) AttestAgent(stream agentv1.Agent_AttestAgentServer) error {
	s := a.s
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	params := req.GetParams()
	s.mu.Lock()
	s.attestData = append(s.attestData, params.GetData())
	var fail error
	if len(s.attestErrs) > 0 {
		fail, s.attestErrs = s.attestErrs[0], s.attestErrs[1:]
	}
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	var id spiffeid.ID
	reattestable := false
	switch params.GetData().GetType() {
	case "join_token":
		token := string(params.GetData().GetPayload())
		s.mu.Lock()
		reusable, ok := s.tokens[token]
		if ok && !reusable {
			delete(s.tokens, token)
		}
		s.mu.Unlock()
		if !ok {
			return status.Error(codes.PermissionDenied, "unknown join token")
		}
		id = spiffeid.RequireFromPath(td, "/spire/agent/join_token/"+token)
	case "k8s_psat":
		var payload struct{ Cluster, Token string }
		if err := json.Unmarshal(params.GetData().GetPayload(), &payload); err != nil {
			return status.Errorf(codes.InvalidArgument, "k8s_psat payload: %v", err)
		}
		s.mu.Lock()
		node, ok := s.psatTokens[payload.Token]
		s.mu.Unlock()
		if !ok {
			return status.Error(codes.PermissionDenied, "service account token rejected")
		}
		id = spiffeid.RequireFromPath(td, "/spire/agent/k8s_psat/"+payload.Cluster+"/"+node)
		reattestable = true
	default:
		return status.Error(codes.InvalidArgument, "unsupported attestation type")
	}
	svid, serial, err := s.signCSR(params.GetParams().GetCsr(), id, s.agentTTL)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.agents[id] = &agentRecord{serial: serial}
	delete(s.mustReattest, id)
	s.attests++
	s.mu.Unlock()
	return stream.Send(&agentv1.AttestAgentResponse{Step: &agentv1.AttestAgentResponse_Result_{
		Result: &agentv1.AttestAgentResponse_Result{Svid: svid, Reattestable: reattestable},
	}})
}

// addPSATToken makes k8s_psat attestation accept token for node.
func (s *fakeServer) addPSATToken(token, node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.psatTokens[token] = node
}

// removePSATToken makes k8s_psat attestation reject token.
func (s *fakeServer) removePSATToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.psatTokens, token)
}

// attestations returns the attestation data received so far.
func (s *fakeServer) attestations() []*types.AttestationData {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attestData)
}

// requireReattest makes every attested agent's calls fail with
// AGENT_MUST_REATTEST until it attests again.
func (s *fakeServer) requireReattest() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.agents {
		s.mustReattest[id] = true
	}
}

// holdMinting makes BatchNewX509SVID calls wait until release is called;
// held receives a value when a call is waiting.
func (s *fakeServer) holdMinting() (held <-chan struct{}, release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.held = make(chan struct{}, 1)
	held = s.held
	s.mu.Unlock()
	return held, sync.OnceFunc(func() {
		s.mu.Lock()
		s.hold = nil
		s.mu.Unlock()
		close(ch)
	})
}

func (a agentService) RenewAgent(ctx context.Context, req *agentv1.RenewAgentRequest) (*agentv1.RenewAgentResponse, error) {
	s := a.s
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	svid, serial, err := s.signCSR(req.GetParams().GetCsr(), id, s.agentTTL)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if rec, ok := s.agents[id]; ok {
		rec.newSerial = serial
	}
	s.renewals++
	s.mu.Unlock()
	return &agentv1.RenewAgentResponse{Svid: svid}, nil
}

type entryService struct {
	entryv1.UnimplementedEntryServer
	s *fakeServer
}

func (e entryService) SyncAuthorizedEntries(stream entryv1.Entry_SyncAuthorizedEntriesServer) error {
	s := e.s
	if _, err := s.caller(stream.Context()); err != nil {
		return err
	}
	// Record the call's metadata; send no digest header: the agent must
	// poll, as it does against a SPIRE server.
	md, _ := metadata.FromIncomingContext(stream.Context())
	select {
	case s.syncs <- md:
	default:
	}
	if _, err := stream.Recv(); err != nil {
		return err
	}
	entries := s.sortedEntries()
	if len(entries) < s.pageSize {
		return stream.Send(&entryv1.SyncAuthorizedEntriesResponse{Entries: entries})
	}
	byID := make(map[string]*types.Entry, len(entries))
	for i := 0; i < len(entries); i += s.pageSize {
		page := entries[i:min(i+s.pageSize, len(entries))]
		resp := &entryv1.SyncAuthorizedEntriesResponse{More: i+s.pageSize < len(entries)}
		for _, en := range page {
			byID[en.Id] = en
			resp.EntryRevisions = append(resp.EntryRevisions, &entryv1.EntryRevision{
				Id: en.Id, RevisionNumber: en.RevisionNumber, CreatedAt: en.CreatedAt,
			})
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.requestedIDs = append(s.requestedIDs, req.GetIds())
		s.mu.Unlock()
		var found []*types.Entry
		for _, id := range req.GetIds() {
			if en, ok := byID[id]; ok {
				found = append(found, en)
			}
		}
		for first := true; first || len(found) > 0; first = false {
			n := min(len(found), s.pageSize)
			resp := &entryv1.SyncAuthorizedEntriesResponse{Entries: found[:n], More: n < len(found)}
			found = found[n:]
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

type svidService struct {
	svidv1.UnimplementedSVIDServer
	s *fakeServer
}

func (v svidService) BatchNewX509SVID(ctx context.Context, req *svidv1.BatchNewX509SVIDRequest) (*svidv1.BatchNewX509SVIDResponse, error) {
	s := v.s
	if _, err := s.caller(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	hold, held := s.hold, s.held
	s.mu.Unlock()
	if hold != nil {
		select {
		case held <- struct{}{}:
		default:
		}
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	resp := &svidv1.BatchNewX509SVIDResponse{}
	for _, p := range req.GetParams() {
		s.mu.Lock()
		en, ok := s.entries[p.GetEntryId()]
		s.mu.Unlock()
		if !ok {
			resp.Results = append(resp.Results, &svidv1.BatchNewX509SVIDResponse_Result{
				Status: &types.Status{Code: int32(codes.NotFound), Message: "entry not found"},
			})
			continue
		}
		id := spiffeid.RequireFromPath(td, en.SpiffeId.Path)
		svid, _, err := s.signCSR(p.GetCsr(), id, time.Hour)
		if err != nil {
			return nil, err
		}
		resp.Results = append(resp.Results, &svidv1.BatchNewX509SVIDResponse_Result{
			Status: &types.Status{Code: int32(codes.OK)}, Svid: svid,
		})
	}
	return resp, nil
}

type bundleService struct {
	bundlev1.UnimplementedBundleServer
	s *fakeServer
}

func (b bundleService) GetBundle(context.Context, *bundlev1.GetBundleRequest) (*types.Bundle, error) {
	pub, err := x509.MarshalPKIXPublicKey(b.s.ca.JWTPublicKey())
	if err != nil {
		return nil, err
	}
	return &types.Bundle{
		TrustDomain:     td.Name(),
		X509Authorities: []*types.X509Certificate{{Asn1: b.s.ca.Root().Raw}},
		JwtAuthorities:  []*types.JWTKey{{PublicKey: pub, KeyId: b.s.ca.JWTKeyID()}},
		SequenceNumber:  1,
	}, nil
}
