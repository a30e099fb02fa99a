package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/server"
)

// idleStreams is how many AttestAgent streams the attacker opens and
// leaves silent: at one attestation per second, they held a real agent
// back for 100 s before the fix.
const idleStreams = 100

// openIdleStreams opens n AttestAgent streams on client that never send a
// message. They end with ctx or when the server cuts them.
func openIdleStreams(t *testing.T, ctx context.Context, client agentv1.AgentClient, n int) []agentv1.Agent_AttestAgentClient {
	t.Helper()
	streams := make([]agentv1.Agent_AttestAgentClient, n)
	for i := range streams {
		s, err := client.AttestAgent(ctx)
		if err != nil {
			t.Fatalf("open idle stream %d: %v", i, err)
		}
		streams[i] = s
	}
	return streams
}

// TestIdleAttestStreamsDoNotLockOutAgents reproduces issue 10 finding 5:
// one client IP opens 100 AttestAgent streams and sends nothing, then a
// real agent from the same IP attests with a join token. Idle streams take
// no rate-limit turn, so the real attestation completes while they are
// still open. The wait below is far shorter than the first-message timeout
// (so the idle streams have not been cut yet) and than the 100 s the
// attestation was held back before the fix, when it failed at once with
// ResourceExhausted ("would exceed context deadline").
func TestIdleAttestStreamsDoNotLockOutAgents(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.DisableAttestationRateLimit = false
		c.AttestationFirstMessageTimeout = 5 * time.Minute
	})
	tok := e.createToken("real-agent", 600, nil)
	// One connection for all streams: HTTP/2 delivers the idle streams to
	// the server before the real one.
	client := agentv1.NewAgentClient(e.tcpConn(nil))
	idleCtx, stopIdle := context.WithCancel(context.Background())
	defer stopIdle()
	openIdleStreams(t, idleCtx, client, idleStreams)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := client.AttestAgent(ctx)
	if err != nil {
		t.Fatalf("open attestation stream: %v", err)
	}
	_, csr := newKeyCSR(t)
	// A Send to a stream the server already ended fails with EOF; Recv
	// then returns the server's status.
	_ = stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{
		Params: &agentv1.AttestAgentRequest_Params{Data: joinTokenData(tok), Params: &agentv1.AgentX509SVIDParams{Csr: csr}},
	}})
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("real attestation behind %d idle streams: %v", idleStreams, err)
	}
	if resp.GetResult().GetSvid() == nil {
		t.Fatalf("real attestation returned no SVID: %v", resp)
	}
}

// TestIdleAttestStreamsAreCut: a stream that sends no attestation request
// within the first-message timeout is ended by the server with
// DeadlineExceeded, so idle streams cannot pile up. Before the fix they
// stayed open until the client gave up.
func TestIdleAttestStreamsAreCut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	e := newEnv(t, func(c *server.Config) {
		c.DisableAttestationRateLimit = false
		c.AttestationFirstMessageTimeout = timeout
	})
	// The client's deadline is the test's: far beyond the server's.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	streams := openIdleStreams(t, ctx, agentv1.NewAgentClient(e.tcpConn(nil)), idleStreams)
	for i, s := range streams {
		_, err := s.Recv()
		st := status.Convert(err)
		if st.Code() != codes.DeadlineExceeded || !strings.Contains(st.Message(), "first message") {
			t.Fatalf("idle stream %d ended with %v, want the server's DeadlineExceeded for a missing first message", i, err)
		}
	}
}
