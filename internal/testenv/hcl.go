package testenv

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/svidkit/svidkit/pkg/config"
)

// ServerHCL renders cfg as a server configuration file, for tests that run
// the svidkit-server binary with the settings an in-process server gets.
// It renders what Layout.ServerConfig sets, the log level, the federation
// block, a disabled attestation rate limit, profiling and the health
// listener, and refuses other node attestors and notifiers rather than leave them out.
func ServerHCL(cfg *config.Server) (string, error) {
	if cfg.K8sPSAT != nil || cfg.K8sBundle != nil {
		return "", fmt.Errorf("testenv: server HCL: k8s_psat and k8sbundle are not rendered")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server {\n")
	fmt.Fprintf(&b, "  bind_address = %q\n  bind_port = %d\n  socket_path = %q\n", cfg.BindAddress, cfg.BindPort, cfg.SocketPath)
	fmt.Fprintf(&b, "  trust_domain = %q\n  data_dir = %q\n  log_level = %q\n", cfg.TrustDomain.Name(), cfg.DataDir, cfg.LogLevel)
	fmt.Fprintf(&b, "  ca_ttl = %q\n  default_x509_svid_ttl = %q\n  agent_ttl = %q\n", cfg.CATTL, cfg.DefaultX509SVIDTTL, cfg.AgentTTL)
	if !cfg.RateLimitAttestation {
		fmt.Fprintf(&b, "  ratelimit {\n    attestation = false\n  }\n")
	}
	if err := writeFederation(&b, cfg.Federation); err != nil {
		return "", err
	}
	writeProfiling(&b, cfg.Profiling)
	fmt.Fprintf(&b, "}\n\n")
	fmt.Fprintf(&b, "plugins {\n")
	fmt.Fprintf(&b, "  DataStore \"sql\" {\n    plugin_data {\n      database_type = %q\n      connection_string = %q\n    }\n  }\n",
		cfg.DataStore.DatabaseType, cfg.DataStore.ConnectionString)
	switch cfg.KeyManager.Name {
	case "disk":
		fmt.Fprintf(&b, "  KeyManager \"disk\" {\n    plugin_data {\n      keys_path = %q\n    }\n  }\n", cfg.KeyManager.Path)
	default:
		fmt.Fprintf(&b, "  KeyManager %q {\n    plugin_data {}\n  }\n", cfg.KeyManager.Name)
	}
	for _, na := range cfg.NodeAttestors {
		if na != config.NodeAttestorJoinToken {
			return "", fmt.Errorf("testenv: server HCL: node attestor %q is not rendered", na)
		}
		fmt.Fprintf(&b, "  NodeAttestor %q {\n    plugin_data {}\n  }\n", na)
	}
	fmt.Fprintf(&b, "}\n")
	writeHealth(&b, cfg.Health)
	return b.String(), nil
}

// AgentHCL renders cfg as an agent configuration file, for tests that run
// the svidkit-agent binary with the settings an in-process agent gets. It
// renders what Layout.AgentConfig sets, the log level, profiling and the
// health listener, and refuses the k8s attestors rather than leave them out.
func AgentHCL(cfg *config.Agent) (string, error) {
	if cfg.NodeAttestor != config.NodeAttestorJoinToken || cfg.K8s != nil {
		return "", fmt.Errorf("testenv: agent HCL: only join_token and unix attestation are rendered")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "agent {\n")
	fmt.Fprintf(&b, "  data_dir = %q\n  log_level = %q\n  server_address = %q\n  server_port = %d\n",
		cfg.DataDir, cfg.LogLevel, cfg.ServerAddress, cfg.ServerPort)
	fmt.Fprintf(&b, "  socket_path = %q\n  trust_domain = %q\n  trust_bundle_path = %q\n",
		cfg.SocketPath, cfg.TrustDomain.Name(), cfg.TrustBundlePath)
	if cfg.JoinToken != "" {
		fmt.Fprintf(&b, "  join_token = %q\n", cfg.JoinToken)
	}
	if cfg.JWTSVIDCacheMaxSize != 0 {
		fmt.Fprintf(&b, "  jwt_svid_cache_max_size = %d\n", cfg.JWTSVIDCacheMaxSize)
	}
	if cfg.X509SVIDCacheMaxSize != 0 {
		fmt.Fprintf(&b, "  x509_svid_cache_max_size = %d\n", cfg.X509SVIDCacheMaxSize)
	}
	writeProfiling(&b, cfg.Profiling)
	fmt.Fprintf(&b, "}\n\nplugins {\n  NodeAttestor %q {\n    plugin_data {}\n  }\n", cfg.NodeAttestor)
	switch cfg.KeyManager.Name {
	case "disk":
		fmt.Fprintf(&b, "  KeyManager \"disk\" {\n    plugin_data {\n      directory = %q\n    }\n  }\n", cfg.KeyManager.Path)
	default:
		fmt.Fprintf(&b, "  KeyManager %q {\n    plugin_data {}\n  }\n", cfg.KeyManager.Name)
	}
	if cfg.Unix != nil {
		fmt.Fprintf(&b, "  WorkloadAttestor \"unix\" {\n    plugin_data {\n      discover_workload_path = %t\n    }\n  }\n", cfg.Unix.DiscoverWorkloadPath)
	}
	fmt.Fprintf(&b, "}\n")
	writeHealth(&b, cfg.Health)
	return b.String(), nil
}

// writeHealth renders an enabled health_checks block.
func writeHealth(b *strings.Builder, h config.Health) {
	if !h.ListenerEnabled {
		return
	}
	fmt.Fprintf(b, "\nhealth_checks {\n  listener_enabled = true\n  bind_address = %q\n  bind_port = %d\n  live_path = %q\n  ready_path = %q\n}\n",
		h.BindAddress, h.BindPort, h.LivePath, h.ReadyPath)
}

// writeProfiling renders the profiling keys of a server or agent block
// that are set.
func writeProfiling(b *strings.Builder, p config.Profiling) {
	if p.Enabled {
		fmt.Fprintf(b, "  profiling_enabled = true\n")
	}
	if p.Port != 0 {
		fmt.Fprintf(b, "  profiling_port = %d\n", p.Port)
	}
	if p.Freq != 0 {
		fmt.Fprintf(b, "  profiling_freq = %d\n", p.Freq)
	}
	if len(p.Names) > 0 {
		quoted := make([]string, len(p.Names))
		for i, n := range p.Names {
			quoted[i] = strconv.Quote(n)
		}
		fmt.Fprintf(b, "  profiling_names = [%s]\n", strings.Join(quoted, ", "))
	}
}
