// Package nodeattest defines what the server asks of a node attestor: the
// Attestor interface, the Result it returns, and the Error kinds that tell
// the API edge whether a failure was the agent's fault (bad data, denied)
// or the server's (an unreachable kube-apiserver). It is a leaf package, so
// attestors such as k8spsat do not import the server and the server does
// not import them; serverd wires them together.
package nodeattest

import (
	"context"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/selector"
)

// Attestor verifies one type of node attestation data on the server.
type Attestor interface {
	// Type is the AttestationData type it serves, e.g. "k8s_psat".
	Type() string
	// Attest verifies payload and says who the agent is. It changes no
	// state the server owns: a join token to spend goes in
	// Result.JoinToken, which the server spends only for an admitted
	// agent, with the agent's record. Failures caused by the payload are
	// *Error values.
	Attest(ctx context.Context, payload []byte) (Result, error)
}

// Result is a successful attestation.
type Result struct {
	// AgentID is the agent's SPIFFE ID, e.g.
	// spiffe://td/spire/agent/k8s_psat/<cluster>/<node-uid>.
	AgentID spiffeid.ID
	// Selectors are the node selectors the attestor vouches for.
	Selectors selector.Set
	// CanReattest says the agent proves itself again with fresh data
	// instead of renewing its SVID (SPIRE's semantics for k8s_psat).
	CanReattest bool
	// JoinToken, when not empty, is a single-use join token the
	// attestation spends. The server spends it last, after every check
	// and the signing, in the transaction that stores the agent
	// (datastore.Store.AttestAgent), and only while the agent still waits
	// for the answer: a token is never used up by an attestation that
	// failed or that the agent gave up on.
	JoinToken string
}

// Kind says why an attestation was refused.
type Kind int

const (
	// KindInvalid means the payload is malformed or names something the
	// server is not configured for (an unknown cluster).
	KindInvalid Kind = iota + 1
	// KindDenied means the payload is well formed but does not prove the
	// agent's identity: an unauthenticated token, a wrong audience, a
	// service account not allowed, a pod or node that does not match.
	KindDenied
)

// Error is an attestation refused because of the data presented. Errors
// of other types are the server's own failures.
type Error struct {
	Kind Kind
	Err  error
}

// Error returns the reason without the kind, ready for an API message.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the underlying reason.
func (e *Error) Unwrap() error { return e.Err }

// Invalid returns a KindInvalid Error with a formatted reason.
func Invalid(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Err: fmt.Errorf(format, args...)}
}

// Denied returns a KindDenied Error with a formatted reason.
func Denied(format string, args ...any) error {
	return &Error{Kind: KindDenied, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the Kind of the first *Error in err's chain, or 0 when
// err is not an attestation refusal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}
