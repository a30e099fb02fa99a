package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
)

// NodeAttestor proves the node's identity to the server: it yields the
// AttestationData the agent sends in AttestAgent. The agent asks for it
// afresh on every attestation (the first one, and each re-attestation), so
// an attestor backed by a rotating credential must read it at that moment.
type NodeAttestor interface {
	// AttestationData returns the data for one attestation.
	AttestationData(ctx context.Context) (*types.AttestationData, error)
	// Reattestable reports whether the server can attest this node again
	// with new data, so the agent re-attests instead of renewing its SVID.
	// It stands in for the server's Reattestable answer when the agent
	// reuses an SVID stored by an earlier run.
	Reattestable() bool
}

// Node attestor types, as SPIRE spells them in AttestationData.Type.
const (
	joinTokenAttestor = "join_token"
	k8sPSATAttestor   = "k8s_psat"
)

// JoinToken attests with a join token created on the server. Tokens are
// single use: once attested, the agent keeps its identity by renewal.
type JoinToken struct {
	// Token is the join token. Required.
	Token string
}

// AttestationData returns the join token payload.
func (j JoinToken) AttestationData(context.Context) (*types.AttestationData, error) {
	if j.Token == "" {
		return nil, errors.New("join token: token is empty")
	}
	return &types.AttestationData{Type: joinTokenAttestor, Payload: []byte(j.Token)}, nil
}

// Reattestable reports false: a used join token cannot attest again.
func (JoinToken) Reattestable() bool { return false }

// K8sPSAT attests with a Kubernetes projected service account token, as
// SPIRE's k8s_psat node attestor does. The kubelet rotates the token file,
// so it is read again for every attestation.
type K8sPSAT struct {
	// Cluster is the name the server's k8s_psat attestor knows the
	// cluster by. Required.
	Cluster string
	// TokenPath is the projected token file. Required.
	TokenPath string
}

// psatPayload is the JSON payload of SPIRE's k8s_psat attestation data.
type psatPayload struct {
	Cluster string `json:"cluster"`
	Token   string `json:"token"`
}

// AttestationData reads the token file and returns SPIRE's k8s_psat
// payload {"cluster": ..., "token": ...}.
func (p K8sPSAT) AttestationData(context.Context) (*types.AttestationData, error) {
	if p.Cluster == "" {
		return nil, errors.New("k8s_psat: cluster is empty")
	}
	raw, err := os.ReadFile(p.TokenPath)
	if err != nil {
		return nil, fmt.Errorf("k8s_psat: read service account token %q: %w", p.TokenPath, err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return nil, fmt.Errorf("k8s_psat: service account token file %q is empty", p.TokenPath)
	}
	payload, err := json.Marshal(psatPayload{Cluster: p.Cluster, Token: token})
	if err != nil {
		return nil, fmt.Errorf("k8s_psat: encode payload: %w", err)
	}
	return &types.AttestationData{Type: k8sPSATAttestor, Payload: payload}, nil
}

// Reattestable reports true: a fresh token attests the node again, which
// is how PSAT agents keep their identity (the server answers Reattestable).
func (K8sPSAT) Reattestable() bool { return true }
