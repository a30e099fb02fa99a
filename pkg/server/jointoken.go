package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/nodeattest"
)

// joinTokenType is the built-in node attestor, always enabled.
const joinTokenType = "join_token"

// joinTokenStore is what join-token attestation needs from the store.
type joinTokenStore interface {
	ConsumeJoinToken(ctx context.Context, token string, now time.Time) (*datastore.JoinToken, error)
}

// joinTokenAttestor admits an agent presenting a single-use join token
// created with CreateJoinToken. The token names the agent
// (spiffe://td/spire/agent/join_token/<token>); it is spent in Commit, so
// a banned agent or a bad CSR does not use it up.
type joinTokenAttestor struct {
	td    spiffeid.TrustDomain
	store joinTokenStore
	clock Clock
}

func (a *joinTokenAttestor) Type() string { return joinTokenType }

func (a *joinTokenAttestor) Attest(_ context.Context, payload []byte) (nodeattest.Result, error) {
	token := string(payload)
	id, err := spiffeid.FromSegments(a.td, "spire", "agent", joinTokenType, token)
	if err != nil {
		return nodeattest.Result{}, nodeattest.Invalid("params.data.payload: join token cannot form an agent ID: %v", err)
	}
	return nodeattest.Result{
		AgentID: id,
		Commit: func(ctx context.Context) error {
			_, err := a.store.ConsumeJoinToken(ctx, token, a.clock.Now())
			switch {
			case errors.Is(err, datastore.ErrNotFound):
				return nodeattest.Invalid("join token does not exist or has already been used")
			case errors.Is(err, datastore.ErrExpired):
				return nodeattest.Invalid("join token expired")
			case err != nil:
				return fmt.Errorf("consume join token: %w", err)
			}
			return nil
		},
	}, nil
}
