package testenv

import (
	"context"
	"os"
	"testing"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/agentd"
	"github.com/svidkit/svidkit/pkg/config"
)

// Agent is a running svidkit agent.
type Agent struct {
	// Name tells the server's agents apart: it names the agent's state
	// directory and socket.
	Name string
	// Socket is the path of its Workload API socket (mode 0777, in a
	// directory every user can enter).
	Socket string
	// Agent is the running agent.
	Agent *agent.Agent

	stop func()
}

// Address is the Workload API address in URL form, for go-spiffe's
// workloadapi.WithAddr and the helper's agent_address.
func (a *Agent) Address() string { return "unix://" + a.Socket }

// Stop stops the agent; its state stays, so starting the same name again
// is a restart. Stopping twice is harmless.
func (a *Agent) Stop() { a.stop() }

// Client returns a go-spiffe Workload API client of the agent, closed when
// the test ends.
func (a *Agent) Client(t testing.TB) *workloadapi.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c, err := workloadapi.New(ctx, workloadapi.WithAddr(a.Address()))
	if err != nil {
		t.Fatalf("testenv: Workload API client of agent %s: %v", a.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// AgentConfig returns the configuration of the server's agent name (see
// Layout.AgentConfig), after writing the server's current bundle where it
// bootstraps from. Tests adjust it before StartAgentWith.
func (s *Server) AgentConfig(t testing.TB, name, joinToken string) *config.Agent {
	t.Helper()
	if err := os.WriteFile(s.Layout.BundlePath(), s.BundlePEM(t), 0o644); err != nil {
		t.Fatalf("testenv: write agent trust bundle: %v", err)
	}
	cfg, err := s.Layout.AgentConfig(s.TCPAddr, name, joinToken)
	if err != nil {
		t.Fatalf("testenv: agent %s: server address %q: %v", name, s.TCPAddr, err)
	}
	return cfg
}

// StartAgent runs agent name with joinToken (empty on a restart: the agent
// reuses its stored SVID) and returns once its Workload API socket
// accepts connections.
func (s *Server) StartAgent(t testing.TB, name, joinToken string) *Agent {
	t.Helper()
	return s.StartAgentWith(t, name, s.AgentConfig(t, name, joinToken))
}

// StartAgentWith runs agent name with cfg, as StartAgent does.
func (s *Server) StartAgentWith(t testing.TB, name string, cfg *config.Agent) *Agent {
	t.Helper()
	log := s.log.With("daemon", "agent-"+name)
	a, stop := run(t, "agent "+name, func(ctx context.Context, started func(*agent.Agent)) error {
		return agentd.Run(ctx, cfg, agentd.Options{Log: log, Started: started})
	})
	return &Agent{Name: name, Socket: cfg.SocketPath, Agent: a, stop: stop}
}

// RunAgentExpectingFailure runs agent name with cfg, which must fail to
// start (a used join token, a refused attestation), and returns its error.
// The test fails if the agent serves, or neither fails nor serves within
// 30 seconds.
func (s *Server) RunAgentExpectingFailure(t testing.TB, name string, cfg *config.Agent) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err := agentd.Run(ctx, cfg, agentd.Options{Log: s.log.With("daemon", "agent-"+name), Started: func(*agent.Agent) {
		t.Errorf("testenv: agent %s started serving", name)
	}})
	if ctx.Err() != nil {
		t.Fatalf("testenv: agent %s neither failed nor started within %s", name, startTimeout)
	}
	return err
}
