package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/datastore"
	"github.com/svidkit/svidkit/pkg/selector"
)

// joinTokenType is the only node attestor svidkit supports.
const joinTokenType = "join_token"

// AttestAgent admits an agent that presents a valid join token and signs
// its first agent SVID.
func (s *agentService) AttestAgent(stream agentv1.Agent_AttestAgentServer) error {
	ctx := stream.Context()
	req, err := stream.Recv()
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "receive attestation request: %v", err)
	}
	params := req.GetParams()
	if params == nil {
		return status.Error(codes.InvalidArgument, "params: missing attestation parameters")
	}
	data := params.GetData()
	if data == nil {
		return status.Error(codes.InvalidArgument, "params.data: missing attestation data")
	}
	if data.Type != joinTokenType {
		return status.Errorf(codes.Unimplemented, "params.data.type: node attestor %q is not supported (only %q)", data.Type, joinTokenType)
	}
	if len(data.Payload) == 0 {
		return status.Error(codes.InvalidArgument, "params.data.payload: missing join token")
	}
	csr, err := parseCSR("params.params.csr", params.GetParams().GetCsr())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	token := string(data.Payload)
	agentID, err := spiffeid.FromSegments(s.cfg.TrustDomain, "spire", "agent", joinTokenType, token)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "params.data.payload: join token cannot form an agent ID: %v", err)
	}

	// Refuse banned agents before the token is spent.
	existing, err := s.cfg.Store.GetAgent(ctx, agentID.String())
	switch {
	case err == nil && existing.Banned:
		return permissionDenied(types.PermissionDeniedDetails_AGENT_BANNED, "failed to attest: agent %q is banned", agentID)
	case err != nil && !errors.Is(err, datastore.ErrNotFound):
		return status.Errorf(codes.Internal, "look up agent: %v", err)
	}

	if _, err := s.cfg.Store.ConsumeJoinToken(ctx, token, s.cfg.Clock.Now()); err != nil {
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			return status.Error(codes.InvalidArgument, "failed to attest: join token does not exist or has already been used")
		case errors.Is(err, datastore.ErrExpired):
			return status.Error(codes.InvalidArgument, "failed to attest: join token expired")
		}
		return status.Errorf(codes.Internal, "consume join token: %v", err)
	}

	chain, err := s.signX509(ctx, "agent", agentID, csr.PublicKey, s.cfg.AgentTTL, nil)
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	agent := &datastore.Agent{
		SPIFFEID:        agentID.String(),
		AttestationType: joinTokenType,
		Selectors:       selector.NewSet(selector.Selector{Type: "spiffe_id", Value: agentID.String()}),
		SerialNumber:    chain[0].SerialNumber.String(),
		ExpiresAt:       chain[0].NotAfter,
		CanReattest:     false,
	}
	if existing != nil {
		_, err = s.cfg.Store.UpdateAgent(ctx, agent)
	} else {
		_, err = s.cfg.Store.CreateAgent(ctx, agent)
	}
	if err != nil {
		return status.Errorf(codes.Internal, "store agent %q: %v", agentID, err)
	}
	s.cfg.Log.Info("agent attested", "agent_id", agentID.String(), "serial", agent.SerialNumber)
	return stream.Send(&agentv1.AttestAgentResponse{Step: &agentv1.AttestAgentResponse_Result_{
		Result: &agentv1.AttestAgentResponse_Result{Svid: protoX509SVID(agentID, chain, ""), Reattestable: false},
	}})
}

// RenewAgent signs a new SVID for the calling agent. The new serial becomes
// active on its first use.
func (s *agentService) RenewAgent(ctx context.Context, req *agentv1.RenewAgentRequest) (*agentv1.RenewAgentResponse, error) {
	agent, err := requireAgent(ctx)
	if err != nil {
		return nil, err
	}
	if agent.CanReattest {
		return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_MUST_REATTEST, "agent %q must re-attest instead of renewing", agent.SPIFFEID)
	}
	csr, err := parseCSR("params.csr", req.GetParams().GetCsr())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	id := callerFrom(ctx).agentID
	chain, err := s.signX509(ctx, "agent", id, csr.PublicKey, s.cfg.AgentTTL, nil)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	// Re-read the agent so that a ban or delete since the call was
	// authorized is not overwritten.
	current, err := s.cfg.Store.GetAgent(ctx, agent.SPIFFEID)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_NOT_ATTESTED, "agent %q is not attested", id)
	case err != nil:
		return nil, status.Errorf(codes.Internal, "look up agent %q: %v", id, err)
	case current.Banned:
		return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_BANNED, "agent %q is banned", id)
	}
	current.NewSerialNumber = chain[0].SerialNumber.String()
	if _, err := s.cfg.Store.UpdateAgent(ctx, current); err != nil {
		return nil, status.Errorf(codes.Internal, "%v", fmt.Errorf("record renewed serial of %q: %w", id, err))
	}
	return &agentv1.RenewAgentResponse{Svid: protoX509SVID(id, chain, "")}, nil
}

// PostStatus accepts the agent's bundle status report; svidkit keeps no
// per-agent bundle state, so it only checks the caller.
func (s *agentService) PostStatus(ctx context.Context, _ *agentv1.PostStatusRequest) (*agentv1.PostStatusResponse, error) {
	if _, err := requireAgent(ctx); err != nil {
		return nil, err
	}
	return &agentv1.PostStatusResponse{}, nil
}
