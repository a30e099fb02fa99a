package helperconfig

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// DefaultAgentAddress is the Workload API address used when agent_address,
// SPIFFE_ENDPOINT_SOCKET and SPIRE_AGENT_ADDRESS are all unset: SPIRE's
// default agent socket, as in spiffe-helper.
const DefaultAgentAddress = "unix:///tmp/spire-agent/public/api.sock"

// WorkloadAPIAddress returns the Workload API address to dial, in go-spiffe
// form ("unix:///path" or "tcp://host:port"). It takes agent_address, or
// else the SPIFFE_ENDPOINT_SOCKET environment variable, or else
// SPIRE_AGENT_ADDRESS (deprecated, still read by spiffe-helper); setting
// both variables is an error, as in spiffe-helper. A bare path becomes
// "unix://" + path, made absolute. getenv is usually os.Getenv.
//
// When none of the three is set it falls back to spiffe-helper's default,
// DefaultAgentAddress, so that configurations relying on it work unchanged.
func (c *Config) WorkloadAPIAddress(getenv func(string) string) (string, error) {
	addr := strings.TrimSpace(c.AgentAddress)
	if addr == "" {
		endpoint, spire := getenv("SPIFFE_ENDPOINT_SOCKET"), getenv("SPIRE_AGENT_ADDRESS")
		switch {
		case endpoint != "" && spire != "":
			return "", errors.New("both SPIFFE_ENDPOINT_SOCKET and SPIRE_AGENT_ADDRESS are set; use SPIFFE_ENDPOINT_SOCKET only")
		case endpoint != "":
			addr = endpoint
		case spire != "":
			addr = spire
		default:
			addr = DefaultAgentAddress
		}
	}
	if strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, "tcp:") {
		return addr, nil
	}
	if strings.Contains(addr, "://") {
		return "", fmt.Errorf("workload API address %q: want a socket path, unix:///path or tcp://host:port", addr)
	}
	// go-spiffe needs an absolute path in a unix:// URL.
	abs, err := filepath.Abs(addr)
	if err != nil {
		return "", fmt.Errorf("workload API address %q: %w", addr, err)
	}
	return "unix://" + abs, nil
}
