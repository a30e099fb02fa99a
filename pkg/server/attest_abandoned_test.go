package server_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// heldAuthority is a fault injection: it holds the signing of the first
// agent SVID until the attestation's context is done (the agent's attempt
// timed out, or its connection broke) and then signs anyway, as a server
// too loaded to answer in time does. held receives when the hold begins.
type heldAuthority struct {
	server.Authority
	holds atomic.Int32
	held  chan struct{}
}

func (a *heldAuthority) SignX509SVID(ctx context.Context, p ca.X509SVIDParams) ([]*x509.Certificate, error) {
	if strings.HasPrefix(p.SPIFFEID.Path(), "/spire/agent/") && a.holds.Add(-1) >= 0 {
		a.held <- struct{}{}
		<-ctx.Done()
		ctx = context.WithoutCancel(ctx)
	}
	return a.Authority.SignX509SVID(ctx, p)
}

// TestAttestationAbandonedByAgentKeepsJoinToken: an attestation that the
// agent gave up on before the server answered (load finding 5) spends
// nothing, and the agent's retry with the same join token succeeds; the
// token is spent exactly once. The signing is held until the agent's
// attempt ends (fault injection: heldAuthority); the rest is the real
// server and real gRPC.
func TestAttestationAbandonedByAgentKeepsJoinToken(t *testing.T) {
	tests := []struct {
		name string
		// attempt runs the first attestation, which ends with code.
		attempt func(t *testing.T, e *env, held <-chan struct{}, token string) error
		code    codes.Code
	}{
		{
			name: "attempt timed out",
			attempt: func(t *testing.T, e *env, held <-chan struct{}, token string) error {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				defer cancel()
				key, csr := newKeyCSR(t)
				_, err := e.attestCtx(ctx, joinTokenData(token), csr, key)
				select {
				case <-held:
				default:
					t.Fatal("the attempt ended before the server signed: no hold happened")
				}
				return err
			},
			code: codes.DeadlineExceeded,
		},
		{
			name: "connection broken",
			attempt: func(t *testing.T, e *env, held <-chan struct{}, token string) error {
				ctx, cancel := context.WithCancel(t.Context())
				go func() {
					<-held
					cancel()
				}()
				key, csr := newKeyCSR(t)
				_, err := e.attestCtx(ctx, joinTokenData(token), csr, key)
				return err
			},
			code: codes.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held := make(chan struct{}, 1)
			e := newEnv(t, func(c *server.Config) {
				a := &heldAuthority{Authority: c.Authority, held: held}
				a.holds.Store(1)
				c.Authority = a
			})
			token := e.createToken("", 600, nil)

			err := tt.attempt(t, e, held, token)
			if status.Code(err) != tt.code {
				t.Fatalf("first attempt: %v, want code %v", err, tt.code)
			}
			svid, err := e.attest(token)
			if err != nil {
				t.Fatalf("retry with the same join token: %v", err)
			}

			// Stopping the server waits for the abandoned attestation's
			// handler to end; then the store shows what it did.
			if err := e.stop(); err != nil {
				t.Fatalf("stop server: %v", err)
			}
			agents, err := e.store.ListAgents(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(agents) != 1 || agents[0].SPIFFEID != svid.ID.String() {
				t.Fatalf("agents = %+v, want only %s", agents, svid.ID)
			}
			if got, want := agents[0].SerialNumber, svid.Certificates[0].SerialNumber.String(); got != want {
				t.Errorf("stored serial %s, want the retry's %s (the abandoned attempt must write nothing)", got, want)
			}
			if _, err := e.store.ConsumeJoinToken(context.Background(), token, e.clock.Now()); !errors.Is(err, datastore.ErrNotFound) {
				t.Errorf("join token after the retry: %v, want spent (not found)", err)
			}
		})
	}
}
