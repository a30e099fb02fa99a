package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// Trust bundle formats accepted in trust_bundle_format.
const (
	BundleFormatPEM    = "pem"
	BundleFormatSPIFFE = "spiffe"
)

// Agent is the svidkit agent's runtime configuration with defaults
// resolved. The CLI may overwrite fields from flags and then call Validate.
type Agent struct {
	// Source is the file the configuration came from (for messages).
	Source string
	// Lines holds the line of each key DecodeAgent read, so that Validate
	// can name it (block AgentBlock for the agent block's keys); see
	// Server.Lines.
	Lines hcldecode.Lines

	DataDir   string
	LogLevel  string // DEBUG, INFO, WARN or ERROR; default INFO
	LogFormat string // text or json; default text

	ServerAddress string
	ServerPort    int // default 8081
	// SocketPath is the Workload API socket
	// (default /tmp/spire-agent/public/api.sock).
	SocketPath string
	// SocketDirShared (socket_dir_shared, an svidkit extension) accepts a
	// socket directory other users own or may write, with a warning.
	SocketDirShared bool
	// AdminSocketPath is the optional agent admin socket; empty disables it.
	AdminSocketPath string
	TrustDomain     spiffeid.TrustDomain

	// Exactly one way to trust the server on first contact: a bundle file,
	// a bundle URL (https), or InsecureBootstrap.
	TrustBundlePath   string
	TrustBundleURL    string
	TrustBundleFormat string // pem (default) or spiffe
	InsecureBootstrap bool

	// JoinToken is used for the first attestation only, with NodeAttestor
	// "join_token".
	JoinToken string

	KeyManager KeyManager
	// NodeAttestor is the node attestor plugin name: NodeAttestorJoinToken
	// or NodeAttestorK8sPSAT.
	NodeAttestor string
	// K8sPSAT is the k8s_psat NodeAttestor's settings; nil unless
	// NodeAttestor is NodeAttestorK8sPSAT.
	K8sPSAT *K8sPSATAttestor
	// Unix is the unix WorkloadAttestor's settings; nil when not configured.
	Unix *UnixAttestor
	// K8s is the k8s WorkloadAttestor's settings; nil when not configured.
	K8s *K8sAttestor

	Health Health
	// Telemetry says where Prometheus metrics are served.
	Telemetry Telemetry
	// SDS configures the SDS v3 service the agent serves on its Workload
	// API socket (SPIRE's agent { sds { ... } } block).
	SDS SDS
	// JWTSVIDCacheMaxSize is the most JWT-SVIDs the agent keeps for reuse
	// (SPIRE's jwt_svid_cache_max_size); 0 means SPIRE's default, 1,000.
	JWTSVIDCacheMaxSize int
	// X509SVIDCacheMaxSize is the most workload X.509-SVIDs the agent holds
	// beyond those of connected workloads, least recently used evicted
	// first (SPIRE's x509_svid_cache_max_size, a soft limit); 0 means
	// SPIRE's default, 1,000.
	X509SVIDCacheMaxSize int
	// Profiling is the profiling_* keys of the agent block (profiling.go).
	Profiling Profiling
}

// SDS holds the SDS resource names and validator choice; empty names mean
// SPIRE's defaults ("default", "ROOTCA", "ALL").
type SDS struct {
	DefaultSVIDName             string
	DefaultBundleName           string
	DefaultAllBundlesName       string
	DisableSPIFFECertValidation bool
}

// Node attestor plugin names accepted in the agent's plugins block.
const (
	NodeAttestorJoinToken = "join_token"
	NodeAttestorK8sPSAT   = "k8s_psat"
)

// DefaultPSATTokenPath is where the k8s_psat node attestor reads the
// agent's projected service account token unless token_path says
// otherwise (SPIRE's default).
const DefaultPSATTokenPath = "/var/run/secrets/tokens/spire-agent"

// K8sPSATAttestor is the k8s_psat NodeAttestor's plugin_data: the agent
// proves its node with the projected service account token the kubelet
// keeps fresh at TokenPath.
type K8sPSATAttestor struct {
	// Cluster is the cluster name the server's k8s_psat attestor knows
	// this cluster by. Required.
	Cluster string
	// TokenPath is the projected token file (default
	// DefaultPSATTokenPath), read again for every attestation.
	TokenPath string
}

// UnixAttestor is the unix WorkloadAttestor's plugin_data.
type UnixAttestor struct {
	// DiscoverWorkloadPath adds unix:path and unix:sha256 selectors.
	DiscoverWorkloadPath bool
}

// NewAgent returns an Agent holding SPIRE's defaults.
func NewAgent() *Agent {
	return &Agent{
		LogLevel:          "INFO",
		LogFormat:         LogFormatText,
		ServerPort:        8081,
		SocketPath:        "/tmp/spire-agent/public/api.sock",
		TrustBundleFormat: BundleFormatPEM,
		Health:            defaultHealth(),
	}
}

// Validate reports every setting that cannot work, naming the missing or bad
// keys (and the flags that can set them). The join token is not checked
// here: see CheckJoinToken.
func (a *Agent) Validate() error {
	p := hcldecode.Problems{File: a.Source}
	bad := func(format string, args ...any) { p.At(0, format, args...) }
	line := func(key string) int { return a.Lines.Line(AgentBlock, key) }
	if a.TrustDomain.IsZero() {
		bad("missing required key \"trust_domain\" in agent block (or -trustDomain)")
	}
	if a.ServerAddress == "" {
		bad("missing required key \"server_address\" in agent block (or -serverAddress)")
	} else if err := checkServerAddress(a.ServerAddress); err != nil {
		p.At(line("server_address"), "server_address: %v", err)
	}
	if a.DataDir == "" {
		bad("missing required key \"data_dir\" in agent block (or -dataDir)")
	}
	if a.SocketPath == "" {
		p.At(line("socket_path"), "socket_path must not be empty")
	}
	a.validateBootstrap(&p)
	if err := checkPort(a.ServerPort); err != nil {
		p.At(line("server_port"), "server_port: %v", err)
	}
	if err := checkPort(a.Health.BindPort); err != nil {
		p.At(a.Lines.Line(healthBlock, "bind_port"), "health_checks bind_port: %v", err)
	}
	if _, err := ParseLogLevel(a.LogLevel); err != nil {
		p.At(line("log_level"), "log_level: %v", err)
	}
	if err := checkLogFormat(a.LogFormat); err != nil {
		p.At(line("log_format"), "log_format: %v", err)
	}
	switch a.NodeAttestor {
	case "":
		bad("missing NodeAttestor plugin (\"join_token\" or \"k8s_psat\") in plugins block")
	case NodeAttestorK8sPSAT:
		if a.JoinToken != "" {
			bad("join_token (or -joinToken) is set but the NodeAttestor is \"k8s_psat\": remove it, or configure NodeAttestor \"join_token\"")
		}
		if a.K8sPSAT == nil || a.K8sPSAT.Cluster == "" {
			bad("NodeAttestor \"k8s_psat\": missing required key \"cluster\" in plugin_data")
		}
	}
	if a.KeyManager.Name == "" {
		bad("missing KeyManager plugin (\"disk\" or \"memory\") in plugins block")
	}
	return p.Err()
}

// validateBootstrap checks that exactly one way of trusting the server on
// first contact is configured.
func (a *Agent) validateBootstrap(p *hcldecode.Problems) {
	line := func(keys ...string) int { return a.Lines.First(AgentBlock, keys...) }
	sources := []string{"trust_bundle_path", "trust_bundle_url", "insecure_bootstrap"}
	n := 0
	for _, set := range []bool{a.TrustBundlePath != "", a.TrustBundleURL != "", a.InsecureBootstrap} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		p.At(0, "missing trust bundle: set trust_bundle_path or trust_bundle_url, or insecure_bootstrap = true")
		return
	case n > 1:
		p.At(line(sources...), "only one of trust_bundle_path, trust_bundle_url and insecure_bootstrap may be set")
		return
	}
	if a.TrustBundleURL != "" {
		u, err := url.Parse(a.TrustBundleURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			p.At(line("trust_bundle_url"), "trust_bundle_url %q: want an https:// URL", a.TrustBundleURL)
			return
		}
	}
	switch strings.ToLower(a.TrustBundleFormat) {
	case BundleFormatPEM, BundleFormatSPIFFE:
	default:
		p.At(line("trust_bundle_format"), "trust_bundle_format: unknown format %q (want pem or spiffe)", a.TrustBundleFormat)
	}
}

// CheckJoinToken reports whether the agent can attest: with NodeAttestor
// "join_token" a join token is needed unless the agent already holds an
// SVID from an earlier run (haveStoredSVID), so this check belongs at run
// time, not load time. Other node attestors (k8s_psat) need no token and
// always pass.
func (a *Agent) CheckJoinToken(haveStoredSVID bool) error {
	if a.NodeAttestor != NodeAttestorJoinToken || haveStoredSVID || a.JoinToken != "" {
		return nil
	}
	return errors.New("no join token: set join_token in the agent block or pass -joinToken (needed until the agent holds an SVID)")
}

// LoadAgent reads, decodes and validates the agent configuration at path.
// Warnings name deprecated or ineffective settings.
func LoadAgent(path string) (*Agent, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read agent config: %w", err)
	}
	return ParseAgent(path, data)
}

// ParseAgent decodes and validates an agent configuration; name is used in
// messages as the file name.
func ParseAgent(name string, data []byte) (*Agent, []string, error) {
	a, warnings, err := DecodeAgent(name, data)
	if err != nil {
		return nil, warnings, err
	}
	if err := a.Validate(); err != nil {
		return nil, warnings, err
	}
	return a, warnings, nil
}
