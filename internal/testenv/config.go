package testenv

import (
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/svidkit/svidkit/pkg/config"
)

// ServerConfig returns the configuration of the Layout's server listening
// on 127.0.0.1:port (0: any free port), as its configuration file would
// give it: SQLite datastore and disk keys under Dir/server, join_token
// attestation, CA life 24h, X.509-SVIDs and agent SVIDs 1h.
func (l *Layout) ServerConfig(port int) *config.Server {
	dataDir := filepath.Join(l.Dir, "server")
	cfg := config.NewServer()
	cfg.BindAddress = "127.0.0.1"
	cfg.BindPort = port
	cfg.SocketPath = l.AdminSocket
	cfg.TrustDomain = l.TrustDomain
	cfg.DataDir = dataDir
	cfg.CATTL = 24 * time.Hour
	cfg.DefaultX509SVIDTTL = time.Hour
	cfg.AgentTTL = time.Hour
	cfg.DataStore = config.DataStore{DatabaseType: "sqlite3", ConnectionString: filepath.Join(dataDir, "datastore.sqlite3")}
	cfg.KeyManager = config.KeyManager{Name: "disk", Path: filepath.Join(dataDir, "keys.json")}
	cfg.NodeAttestors = []string{config.NodeAttestorJoinToken}
	return cfg
}

// AgentConfig returns the configuration of agent name of the server at
// serverAddr (host:port), as its configuration file would give it: state
// and disk keys under Dir/agent-<name>, its socket at AgentSocket(name),
// trust bootstrapped from BundlePath, join_token attestation with
// joinToken (empty when the agent already holds an SVID), and the unix
// workload attestor. The caller writes the bundle file.
func (l *Layout) AgentConfig(serverAddr, name, joinToken string) (*config.Agent, error) {
	host, portStr, err := net.SplitHostPort(serverAddr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(l.Dir, "agent-"+name)
	cfg := config.NewAgent()
	cfg.DataDir = dataDir
	cfg.ServerAddress = host
	cfg.ServerPort = port
	cfg.SocketPath = l.AgentSocket(name)
	cfg.TrustDomain = l.TrustDomain
	cfg.TrustBundlePath = l.BundlePath()
	cfg.JoinToken = joinToken
	cfg.KeyManager = config.KeyManager{Name: "disk", Path: dataDir}
	cfg.NodeAttestor = config.NodeAttestorJoinToken
	cfg.Unix = &config.UnixAttestor{DiscoverWorkloadPath: true}
	return cfg, nil
}
