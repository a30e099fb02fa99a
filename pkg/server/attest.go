package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
)

// AttestAgent admits an agent whose attestation data the attestor of its
// type accepts, and signs its agent SVID. The order matters: every check
// and the slow work come first — the CSR, the attestation data (side-effect
// free), the ban, the signing — and only then is the attestation
// committed: the agent record written and its join token spent, in one
// transaction that is rolled back when the agent has stopped waiting (its
// attempt timed out under load, its connection broke). An agent whose
// attempt failed therefore retries with the same, still unspent, token.
// An agent that exists already is re-attesting: its serial and selectors
// are replaced.
func (s *agentService) AttestAgent(stream agentv1.Agent_AttestAgentServer) error {
	ctx := stream.Context()
	req, err := recvFirst(stream, s.cfg.AttestationFirstMessageTimeout)
	if err != nil {
		return err
	}
	// The rate-limit turn is taken only now: a stream that sends nothing
	// must not hold one (issue 10, finding 5).
	release, err := s.attestLimit.admit(ctx)
	if err != nil {
		return err
	}
	defer release()
	// An agent that gave up while its call waited for its turn gets no
	// work done for it.
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	params := req.GetParams()
	if params == nil {
		return status.Error(codes.InvalidArgument, "params: missing attestation parameters")
	}
	data := params.GetData()
	if data == nil {
		return status.Error(codes.InvalidArgument, "params.data: missing attestation data")
	}
	attestor, ok := s.attestors[data.Type]
	if !ok {
		return status.Errorf(codes.Unimplemented, "params.data.type: node attestor %q is not supported (configured: %s)",
			data.Type, strings.Join(s.attestorTypes(), ", "))
	}
	if len(data.Payload) == 0 {
		return status.Errorf(codes.InvalidArgument, "params.data.payload: missing %s attestation payload", data.Type)
	}
	csr, err := parseCSR("params.params.csr", params.GetParams().GetCsr())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	res, err := attestor.Attest(ctx, data.Payload)
	if err != nil {
		return s.attestFailed(data.Type, err)
	}
	agentID := res.AgentID
	if !agentID.MemberOf(s.cfg.TrustDomain) || !strings.HasPrefix(agentID.Path(), "/spire/agent/") {
		return status.Errorf(codes.Internal, "failed to attest: %s attestor returned %q, which is not an agent ID of %q", data.Type, agentID, s.cfg.TrustDomain)
	}

	existing, err := s.cfg.Store.GetAgent(ctx, agentID.String())
	switch {
	case err == nil && existing.Banned:
		return permissionDenied(types.PermissionDeniedDetails_AGENT_BANNED, "failed to attest: agent %q is banned", agentID)
	case errors.Is(err, datastore.ErrNotFound):
		existing = nil
	case err != nil:
		return internalStatus("look up agent: %w", err)
	}

	chain, err := s.signX509(ctx, "agent", agentID, csr.PublicKey, s.cfg.AgentTTL, nil)
	if err != nil {
		return internalStatus("%w", err)
	}
	// Every agent carries its own ID as a spiffe_id selector, so node
	// entries and CreateJoinToken aliases can name a single agent.
	sels := slices.Concat(res.Selectors, selector.Set{{Type: "spiffe_id", Value: agentID.String()}})
	agent := &datastore.Agent{
		SPIFFEID:        agentID.String(),
		AttestationType: data.Type,
		Selectors:       selector.NewSet(sels...),
		SerialNumber:    chain[0].SerialNumber.String(),
		ExpiresAt:       chain[0].NotAfter,
		CanReattest:     res.CanReattest,
	}
	if err := s.commitAttestation(ctx, agent, res.JoinToken); err != nil {
		return err
	}
	if existing != nil {
		// Held syncs of the previous SVID re-check the agent now: its old
		// serial is gone and its selectors may have changed.
		s.heldAgents.wake(slices.Values([]string{agentID.String()}))
	}
	s.cfg.Log.Info("agent attested", "agent_id", agentID.String(), "attestor", data.Type,
		"serial", agent.SerialNumber, "reattested", existing != nil)
	return stream.Send(&agentv1.AttestAgentResponse{Step: &agentv1.AttestAgentResponse_Result_{
		Result: &agentv1.AttestAgentResponse_Result{Svid: protoX509SVID(agentID, chain, ""), Reattestable: res.CanReattest},
	}})
}

// recvFirst receives the attestation request, failing with
// DeadlineExceeded when it has not arrived within timeout. The receiving
// goroutine ends with the stream: returning from the handler cancels the
// stream, which unblocks its Recv.
func recvFirst(stream agentv1.Agent_AttestAgentServer, timeout time.Duration) (*agentv1.AttestAgentRequest, error) {
	type received struct {
		req *agentv1.AttestAgentRequest
		err error
	}
	done := make(chan received, 1)
	go func() {
		req, err := stream.Recv()
		done <- received{req, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "receive attestation request: %v", r.err)
		}
		return r.req, nil
	case <-timer.C:
		return nil, status.Errorf(codes.DeadlineExceeded, "attestation request (the stream's first message) not received within %s", timeout)
	}
}

// commitAttestation stores the attested agent, creating or replacing it,
// and spends joinToken (when not empty) in the same transaction, which
// the store commits only while ctx is live. A ban that landed while the
// attestation was verified and signed stands.
func (s *agentService) commitAttestation(ctx context.Context, agent *datastore.Agent, joinToken string) error {
	_, err := s.cfg.Store.AttestAgent(ctx, agent, joinToken, s.cfg.Clock.Now())
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		// Rolled back (or never begun): the agent gave up, and retries
		// with its token intact.
		s.cfg.Log.Warn("attestation abandoned by the agent before it was stored; nothing spent",
			"agent_id", agent.SPIFFEID, "attestor", agent.AttestationType, "error", err)
		return status.FromContextError(ctxErr).Err()
	}
	if errors.Is(err, datastore.ErrBanned) {
		return permissionDenied(types.PermissionDeniedDetails_AGENT_BANNED, "failed to attest: agent %q is banned", agent.SPIFFEID)
	}
	if joinToken != "" {
		if refusal := joinTokenRefusal(err); refusal != nil {
			return s.attestFailed(agent.AttestationType, refusal)
		}
	}
	return internalStatus("store agent %q: %w", agent.SPIFFEID, err)
}

// attestFailed converts an attestor's error to a status: refusals caused
// by the data are InvalidArgument or PermissionDenied with the attestor's
// reason; anything else is the server's failure.
func (s *agentService) attestFailed(typ string, err error) error {
	switch nodeattest.KindOf(err) {
	case nodeattest.KindInvalid:
		return status.Errorf(codes.InvalidArgument, "failed to attest: %v", err)
	case nodeattest.KindDenied:
		s.cfg.Log.Warn("node attestation refused", "attestor", typ, "error", err)
		return status.Errorf(codes.PermissionDenied, "failed to attest: %v", err)
	}
	s.cfg.Log.Error("node attestation failed", "attestor", typ, "error", err)
	return internalStatus("%w", fmt.Errorf("failed to attest: %w", err))
}

// attestorTypes lists the enabled attestation types, sorted.
func (s *agentService) attestorTypes() []string {
	names := make([]string, 0, len(s.attestors))
	for t := range s.attestors {
		names = append(names, t)
	}
	slices.Sort(names)
	return names
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
		return nil, internalStatus("%w", err)
	}
	// Re-read the agent so that a ban or delete since the call was
	// authorized is not overwritten.
	current, err := s.cfg.Store.GetAgent(ctx, agent.SPIFFEID)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_NOT_ATTESTED, "agent %q is not attested", id)
	case err != nil:
		return nil, internalStatus("look up agent %q: %w", id, err)
	case current.Banned:
		return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_BANNED, "agent %q is banned", id)
	}
	current.NewSerialNumber = chain[0].SerialNumber.String()
	if _, err := s.cfg.Store.UpdateAgent(ctx, current); err != nil {
		return nil, internalStatus("%w", fmt.Errorf("record renewed serial of %q: %w", id, err))
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
