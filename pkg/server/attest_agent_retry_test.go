package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// cutProxy forwards TCP connections to a target and can cut every
// connection open at once, as a network failure or a restarted load
// balancer does (fault injection).
type cutProxy struct {
	lis    net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{lis: lis, target: target}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		lis.Close()
		p.cut()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := lis.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(out, in); out.Close() })
			wg.Go(func() { _, _ = io.Copy(in, out); in.Close() })
		}
	})
	return p
}

// cut closes every connection open now; new ones are forwarded.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestAgentRetriesAttestationAfterBrokenConnection: the real agent loses
// its connection while the server is still attesting it (held signing:
// heldAuthority; the connection cut by cutProxy, both fault injections).
// The agent retries with the same join token and is admitted; the token
// is spent once, by the retry. Before the server spent the token only
// with the agent record, the retry found it used and the agent stopped.
func TestAgentRetriesAttestationAfterBrokenConnection(t *testing.T) {
	held := make(chan struct{}, 1)
	e := newEnv(t, func(c *server.Config) {
		a := &heldAuthority{Authority: c.Authority, held: held}
		a.holds.Store(1)
		c.Authority = a
	})
	token := e.createToken("", 600, nil)
	proxy := newCutProxy(t, e.srv.TCPAddr().String())
	a, err := agent.New(agent.Config{
		TrustDomain:   td,
		ServerAddress: proxy.lis.Addr().String(),
		TrustBundle:   e.bundle().X509Authorities(),
		JoinToken:     token,
		DataDir:       t.TempDir(),
		SyncInterval:  20 * time.Millisecond,
		Clock:         e.clock,
		Log:           slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent Run: %v", err)
		}
	})

	select {
	case <-held:
		proxy.cut()
	case err := <-done:
		t.Fatalf("agent ended before its attestation reached the server: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the agent's attestation never reached the signing")
	}
	select {
	case <-a.Attested():
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("agent ended instead of retrying its attestation: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("agent not attested after the broken connection")
	}

	agents, err := e.store.ListAgents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "spiffe://example.org/spire/agent/join_token/" + token; len(agents) != 1 || agents[0].SPIFFEID != want {
		t.Fatalf("agents = %+v, want only %s", agents, want)
	}
	if _, err := e.store.ConsumeJoinToken(context.Background(), token, e.clock.Now()); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("join token after the agent's attestation: %v, want spent", err)
	}
}
