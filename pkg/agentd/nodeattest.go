package agentd

import (
	"fmt"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/config"
)

// nodeAttestor builds the agent's node attestor from the NodeAttestor
// plugin. A join_token agent without a token gets none: it can only reuse
// an SVID stored by an earlier run, and the agent says so if it has none.
func nodeAttestor(cfg *config.Agent) (agent.NodeAttestor, error) {
	switch cfg.NodeAttestor {
	case config.NodeAttestorJoinToken:
		if cfg.JoinToken == "" {
			return nil, nil
		}
		return agent.JoinToken{Token: cfg.JoinToken}, nil
	case config.NodeAttestorK8sPSAT:
		if cfg.K8sPSAT == nil {
			return nil, fmt.Errorf("NodeAttestor %q: missing plugin_data", cfg.NodeAttestor)
		}
		return agent.K8sPSAT{Cluster: cfg.K8sPSAT.Cluster, TokenPath: cfg.K8sPSAT.TokenPath}, nil
	}
	return nil, fmt.Errorf("NodeAttestor %q: want %q or %q", cfg.NodeAttestor, config.NodeAttestorJoinToken, config.NodeAttestorK8sPSAT)
}
