package server

import (
	"context"
	"crypto/x509"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// caller describes who is calling an RPC, as established by the endpoint
// the call arrived on.
type caller struct {
	// local is true for calls on the admin Unix socket.
	local bool
	// agent is set for TCP calls authenticated with an active agent SVID.
	agent *datastore.Agent
	// agentID and cert are set when the TCP caller presented an SVID.
	agentID spiffeid.ID
	cert    *x509.Certificate
}

type callerKey struct{}

func withCaller(ctx context.Context, c *caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// callerFrom returns the caller stored by the endpoint interceptors; a
// context without one is treated as an unauthenticated remote caller.
func callerFrom(ctx context.Context) *caller {
	if c, ok := ctx.Value(callerKey{}).(*caller); ok {
		return c
	}
	return &caller{}
}
