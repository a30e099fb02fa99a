package server

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// agentService implements spire.api.server.agent.v1.Agent.
type agentService struct {
	agentv1.UnimplementedAgentServer
	*deps
}

// agentFilter is the common part of the list and count filters.
type agentFilter interface {
	GetByAttestationType() string
	GetBySelectorMatch() *types.SelectorMatch
	GetByBanned() *wrapperspb.BoolValue
	GetByCanReattest() *wrapperspb.BoolValue
	GetByExpiresBefore() string
}

// filterAgents applies an agent list filter in memory.
func filterAgents(agents []*datastore.Agent, f agentFilter) ([]*datastore.Agent, error) {
	if f == nil {
		return agents, nil
	}
	var before time.Time
	if s := f.GetByExpiresBefore(); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter.by_expires_before: %v", err)
		}
		before = t
	}
	var match selector.Set
	var behavior types.SelectorMatch_MatchBehavior
	if m := f.GetBySelectorMatch(); m != nil {
		sels, err := parseSelectors("filter.by_selector_match.selectors", m.Selectors)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		match, behavior = sels, m.Match
	}
	out := agents[:0:0]
	for _, a := range agents {
		if t := f.GetByAttestationType(); t != "" && a.AttestationType != t {
			continue
		}
		if b := f.GetByBanned(); b != nil && a.Banned != b.GetValue() {
			continue
		}
		if b := f.GetByCanReattest(); b != nil && a.CanReattest != b.GetValue() {
			continue
		}
		if !before.IsZero() && !a.ExpiresAt.Before(before) {
			continue
		}
		if match != nil && !selectorsMatch(a.Selectors, match, behavior) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// selectorsMatch reports whether have matches want under behavior.
func selectorsMatch(have, want selector.Set, behavior types.SelectorMatch_MatchBehavior) bool {
	switch behavior {
	case types.SelectorMatch_MATCH_SUBSET:
		return have.IsSubsetOf(want)
	case types.SelectorMatch_MATCH_SUPERSET:
		return want.IsSubsetOf(have)
	case types.SelectorMatch_MATCH_ANY:
		return slices.ContainsFunc(want, have.Contains)
	default:
		return slices.Equal(have, want)
	}
}

// ListAgents lists agents ordered by SPIFFE ID, paged by the last ID.
func (s *agentService) ListAgents(ctx context.Context, req *agentv1.ListAgentsRequest) (*agentv1.ListAgentsResponse, error) {
	if req.PageSize < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "page_size: must not be negative, got %d", req.PageSize)
	}
	agents, err := s.cfg.Store.ListAgents(ctx)
	if err != nil {
		return nil, internalStatus("list agents: %w", err)
	}
	var f agentFilter
	if req.Filter != nil {
		f = req.Filter
	}
	agents, err = filterAgents(agents, f)
	if err != nil {
		return nil, err
	}
	resp := &agentv1.ListAgentsResponse{}
	last := ""
	for _, a := range agents {
		if req.PageToken != "" && a.SPIFFEID <= req.PageToken {
			continue
		}
		if req.PageSize > 0 && len(resp.Agents) == int(req.PageSize) {
			// The token is the last ID returned; the next page starts after it.
			resp.NextPageToken = last
			break
		}
		resp.Agents = append(resp.Agents, protoAgent(a, req.OutputMask))
		last = a.SPIFFEID
	}
	return resp, nil
}

// CountAgents counts agents matching the filter.
func (s *agentService) CountAgents(ctx context.Context, req *agentv1.CountAgentsRequest) (*agentv1.CountAgentsResponse, error) {
	agents, err := s.cfg.Store.ListAgents(ctx)
	if err != nil {
		return nil, internalStatus("list agents: %w", err)
	}
	var f agentFilter
	if req.Filter != nil {
		f = req.Filter
	}
	agents, err = filterAgents(agents, f)
	if err != nil {
		return nil, err
	}
	return &agentv1.CountAgentsResponse{Count: int32(len(agents))}, nil
}

// GetAgent returns one agent.
func (s *agentService) GetAgent(ctx context.Context, req *agentv1.GetAgentRequest) (*types.Agent, error) {
	a, err := s.lookup(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return protoAgent(a, req.OutputMask), nil
}

// DeleteAgent removes an agent; it may attest again with a new token.
func (s *agentService) DeleteAgent(ctx context.Context, req *agentv1.DeleteAgentRequest) (*emptypb.Empty, error) {
	id, err := parseMemberID("id", req.Id, s.cfg.TrustDomain)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := s.cfg.Store.DeleteAgent(ctx, id.String()); err != nil {
		return nil, storeStatus(err, "delete agent %q", id)
	}
	s.heldAgents.wake(slices.Values([]string{id.String()}))
	s.cfg.Log.Info("agent deleted", "agent_id", id.String())
	return &emptypb.Empty{}, nil
}

// BanAgent bans an agent: its SVIDs are refused at once and it cannot
// attest again until deleted.
func (s *agentService) BanAgent(ctx context.Context, req *agentv1.BanAgentRequest) (*emptypb.Empty, error) {
	a, err := s.lookup(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	a.Banned = true
	a.SerialNumber, a.NewSerialNumber = "", ""
	if _, err := s.cfg.Store.UpdateAgent(ctx, a); err != nil {
		return nil, storeStatus(err, "ban agent %q", a.SPIFFEID)
	}
	s.heldAgents.wake(slices.Values([]string{a.SPIFFEID}))
	s.cfg.Log.Info("agent banned", "agent_id", a.SPIFFEID)
	return &emptypb.Empty{}, nil
}

func (s *agentService) lookup(ctx context.Context, pid *types.SPIFFEID) (*datastore.Agent, error) {
	id, err := parseMemberID("id", pid, s.cfg.TrustDomain)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	a, err := s.cfg.Store.GetAgent(ctx, id.String())
	if err != nil {
		return nil, storeStatus(err, "get agent %q", id)
	}
	return a, nil
}

// CreateJoinToken creates a single-use join token and, when agent_id is
// given, an entry aliasing the token's agent ID to it, as SPIRE does.
func (s *agentService) CreateJoinToken(ctx context.Context, req *agentv1.CreateJoinTokenRequest) (*types.JoinToken, error) {
	if req.Ttl <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "ttl: must be greater than zero, got %d", req.Ttl)
	}
	token := req.Token
	if token == "" {
		token = uuid.NewString()
	}
	tokenAgentID, err := spiffeid.FromSegments(s.cfg.TrustDomain, "spire", "agent", joinTokenType, token)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "token: cannot form an agent ID: %v", err)
	}
	var alias *datastore.Entry
	if req.AgentId != nil {
		// The alias names a node, not an agent ID: SPIRE refuses the
		// reserved namespace here too.
		id, err := parseWorkloadID("agent_id", req.AgentId, s.cfg.TrustDomain)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		alias = &datastore.Entry{
			SPIFFEID:  id.String(),
			ParentID:  tokenAgentID.String(),
			Selectors: selector.NewSet(selector.Selector{Type: "spiffe_id", Value: tokenAgentID.String()}),
		}
	}
	expires := s.cfg.Clock.Now().Add(time.Duration(req.Ttl) * time.Second)
	if err := s.cfg.Store.CreateJoinToken(ctx, &datastore.JoinToken{Token: token, ExpiresAt: expires}); err != nil {
		return nil, storeStatus(err, "create join token")
	}
	if alias != nil {
		_, err := s.cfg.Store.CreateEntry(ctx, alias)
		s.cache.invalidate()
		if err != nil && !errors.Is(err, datastore.ErrAlreadyExists) {
			return nil, storeStatus(err, "create alias entry for %q", alias.SPIFFEID)
		}
	}
	return &types.JoinToken{Value: token, ExpiresAt: expires.Unix()}, nil
}
