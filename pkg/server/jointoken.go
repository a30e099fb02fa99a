package server

import (
	"context"
	"errors"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
)

// joinTokenType is the built-in node attestor, always enabled.
const joinTokenType = "join_token"

// joinTokenAttestor admits an agent presenting a single-use join token
// created with CreateJoinToken. The token names the agent
// (spiffe://td/spire/agent/join_token/<token>); AttestAgent spends it in
// the transaction that stores the agent, after the CSR, ban and signing,
// so a banned agent, a bad CSR, a failure or an agent that gave up
// waiting does not use it up.
type joinTokenAttestor struct {
	td spiffeid.TrustDomain
}

func (a *joinTokenAttestor) Type() string { return joinTokenType }

func (a *joinTokenAttestor) Attest(_ context.Context, payload []byte) (nodeattest.Result, error) {
	token := string(payload)
	id, err := spiffeid.FromSegments(a.td, "spire", "agent", joinTokenType, token)
	if err != nil {
		return nodeattest.Result{}, nodeattest.Invalid("params.data.payload: join token cannot form an agent ID: %v", err)
	}
	return nodeattest.Result{AgentID: id, JoinToken: token}, nil
}

// joinTokenRefusal turns the store's answer about a join token it could
// not spend into the attestation refusal the agent sees, or returns nil
// when err is not about the token. The messages name the token problem
// (never the token: it is a secret), so that an operator knows a new one
// is needed.
func joinTokenRefusal(err error) error {
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return nodeattest.Invalid("join token does not exist or has already been used")
	case errors.Is(err, datastore.ErrExpired):
		return nodeattest.Invalid("join token expired")
	}
	return nil
}
