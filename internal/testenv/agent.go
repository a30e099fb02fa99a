package testenv

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/agentd"
	"github.com/svidkit/svidkit/pkg/config"
)

// Agent is a running svidkit agent.
type Agent struct {
	// Socket is the path of its Workload API socket (mode 0777, in a
	// directory every user can enter).
	Socket string
	// Agent is the running agent.
	Agent *agent.Agent
}

// Address is the Workload API address in URL form, for go-spiffe's
// workloadapi.WithAddr and the helper's agent_address.
func (a *Agent) Address() string { return "unix://" + a.Socket }

func startAgent(t testing.TB, td spiffeid.TrustDomain, d dirs, srv *Server, log *slog.Logger) *Agent {
	t.Helper()
	dataDir := filepath.Join(d.data, "agent")
	bundlePath := filepath.Join(d.data, "bundle.pem")
	if err := os.WriteFile(bundlePath, srv.BundlePEM(t), 0o644); err != nil {
		t.Fatalf("testenv: write agent trust bundle: %v", err)
	}
	host, portStr, err := net.SplitHostPort(srv.TCPAddr)
	if err != nil {
		t.Fatalf("testenv: server address %q: %v", srv.TCPAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatalf("testenv: server port %q: %v", portStr, err)
	}
	cfg := config.NewAgent()
	cfg.DataDir = dataDir
	cfg.ServerAddress = host
	cfg.ServerPort = port
	cfg.SocketPath = d.agentSock
	cfg.TrustDomain = td
	cfg.TrustBundlePath = bundlePath
	cfg.JoinToken = srv.JoinToken(t, NodePath)
	cfg.KeyManager = config.KeyManager{Name: "disk", Path: dataDir}
	cfg.NodeAttestor = "join_token"
	cfg.Unix = &config.UnixAttestor{DiscoverWorkloadPath: true}
	log = log.With("daemon", "agent")
	a := run(t, "agent", func(ctx context.Context, started func(*agent.Agent)) error {
		return agentd.Run(ctx, cfg, agentd.Options{Log: log, Started: started})
	})
	return &Agent{Socket: d.agentSock, Agent: a}
}
