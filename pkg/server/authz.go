package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// policy says who may call a method on the TCP endpoint.
type policy int

const (
	// policyAdmin methods are refused on TCP; only the admin socket may
	// call them. This is the default for every method not listed below.
	policyAdmin policy = iota
	// policyAny methods may be called without a client certificate.
	policyAny
	// policyAgent methods need an active agent SVID.
	policyAgent
)

// tcpPolicies lists the methods the TCP endpoint serves to non-admins.
var tcpPolicies = map[string]policy{
	"/spire.api.server.agent.v1.Agent/AttestAgent":           policyAny,
	"/spire.api.server.bundle.v1.Bundle/GetBundle":           policyAny,
	"/grpc.health.v1.Health/Check":                           policyAny,
	"/spire.api.server.agent.v1.Agent/RenewAgent":            policyAgent,
	"/spire.api.server.agent.v1.Agent/PostStatus":            policyAgent,
	"/spire.api.server.svid.v1.SVID/BatchNewX509SVID":        policyAgent,
	"/spire.api.server.svid.v1.SVID/NewJWTSVID":              policyAgent,
	"/spire.api.server.entry.v1.Entry/GetAuthorizedEntries":  policyAgent,
	"/spire.api.server.entry.v1.Entry/SyncAuthorizedEntries": policyAgent,
	// Agents read the foreign bundles their entries federate with; the
	// handler checks which.
	"/spire.api.server.bundle.v1.Bundle/GetFederatedBundle": policyAgent,
}

// agentAuthorizer authenticates TCP callers per request against the
// agents' records, so that a banned or deleted agent is refused at once.
// The records come from the agent cache, which reads an agent from the
// store only on its first call and after it changed.
type agentAuthorizer struct {
	agents *agentCache
	// store is the server's store, whose agent writes update the cache.
	store datastore.Store
	td    spiffeid.TrustDomain
	clock Clock
}

// authorize returns the caller of a TCP request to method, or a gRPC
// status error.
func (a *agentAuthorizer) authorize(ctx context.Context, method string) (*caller, error) {
	pol := tcpPolicies[method]
	if pol == policyAdmin {
		return nil, status.Errorf(codes.PermissionDenied, "%s is only available on the admin socket", method)
	}
	c := &caller{}
	cert := peerCert(ctx)
	if cert != nil {
		id, err := x509svid.IDFromCert(cert)
		if err != nil {
			return nil, status.Errorf(codes.Unauthenticated, "caller certificate has no SPIFFE ID: %v", err)
		}
		c.agentID, c.cert = id, cert
	}
	if pol == policyAny {
		return c, nil
	}
	if cert == nil {
		return nil, status.Error(codes.Unauthenticated, "an agent X509-SVID is required")
	}
	agent, err := a.activeAgent(ctx, c.agentID, cert)
	if err != nil {
		return nil, err
	}
	c.agent = agent
	return c, nil
}

// activeAgent checks that id is an attested, unbanned agent presenting its
// current (or newly renewed) SVID, promoting a renewed serial on first use.
// A serial the agent's record does not know is looked up in the store once
// more before it is refused: the agent may have re-attested or renewed
// through another server a moment ago, before this one heard of it.
func (a *agentAuthorizer) activeAgent(ctx context.Context, id spiffeid.ID, cert *x509.Certificate) (*datastore.Agent, error) {
	if !id.MemberOf(a.td) || !strings.HasPrefix(id.Path(), "/spire/agent/") {
		return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_NOT_ATTESTED, "caller %q is not an agent", id)
	}
	serial := cert.SerialNumber.String()
	agent, err := a.standing(id, cert)(a.agents.lookup(ctx, id.String()))
	if err == nil && serial != agent.SerialNumber && serial != agent.NewSerialNumber {
		agent, err = a.standing(id, cert)(a.agents.reread(ctx, id.String()))
	}
	if err != nil {
		return nil, err
	}
	switch serial {
	case agent.SerialNumber:
		return agent, nil
	case agent.NewSerialNumber:
		agent.SerialNumber = serial
		agent.NewSerialNumber = ""
		agent.ExpiresAt = cert.NotAfter
		updated, err := a.store.UpdateAgent(ctx, agent)
		if err != nil {
			return nil, internalStatus("activate renewed SVID of agent %q: %w", id, err)
		}
		return updated, nil
	}
	return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_NOT_ACTIVE, "agent %q presented an inactive SVID (serial %s)", id, serial)
}

// standing returns a function that checks a looked-up agent record: the
// agent must exist, not be banned, and present an unexpired SVID.
func (a *agentAuthorizer) standing(id spiffeid.ID, cert *x509.Certificate) func(*datastore.Agent, error) (*datastore.Agent, error) {
	return func(agent *datastore.Agent, err error) (*datastore.Agent, error) {
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_NOT_ATTESTED, "agent %q is not attested", id)
		case err != nil:
			return nil, internalStatus("look up agent %q: %w", id, err)
		case agent.Banned:
			return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_BANNED, "agent %q is banned", id)
		case !a.clock.Now().Before(cert.NotAfter):
			return nil, permissionDenied(types.PermissionDeniedDetails_AGENT_EXPIRED, "agent %q SVID has expired", id)
		}
		return agent, nil
	}
}

// permissionDenied builds a PermissionDenied status carrying SPIRE's
// PermissionDeniedDetails, which SPIRE agents inspect to decide whether to
// re-attest.
func permissionDenied(reason types.PermissionDeniedDetails_Reason, format string, args ...any) error {
	st := status.New(codes.PermissionDenied, fmt.Sprintf(format, args...))
	if withDetails, err := st.WithDetails(&types.PermissionDeniedDetails{Reason: reason}); err == nil {
		st = withDetails
	}
	return st.Err()
}

// peerCert returns the verified leaf certificate the TLS peer presented.
func peerCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return nil
	}
	return info.State.PeerCertificates[0]
}

// unaryTCP authorizes unary calls on the TCP endpoint.
func (a *agentAuthorizer) unaryTCP(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	c, err := a.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(withCaller(ctx, c), req)
}

// streamTCP authorizes streaming calls on the TCP endpoint.
func (a *agentAuthorizer) streamTCP(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	c, err := a.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, &callerStream{ServerStream: ss, ctx: withCaller(ss.Context(), c)})
}

// unaryLocal marks calls on the admin socket as local.
func unaryLocal(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(withCaller(ctx, &caller{local: true}), req)
}

// streamLocal marks streams on the admin socket as local.
func streamLocal(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &callerStream{ServerStream: ss, ctx: withCaller(ss.Context(), &caller{local: true})})
}

// callerStream overrides a stream's context to carry the caller.
type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *callerStream) Context() context.Context { return s.ctx }

// requireAgent returns the authenticated agent of the call or a status
// error; admin-socket callers are not agents.
func requireAgent(ctx context.Context) (*datastore.Agent, error) {
	c := callerFrom(ctx)
	if c.agent == nil {
		return nil, status.Error(codes.PermissionDenied, "caller is not an attested agent")
	}
	return c.agent, nil
}
