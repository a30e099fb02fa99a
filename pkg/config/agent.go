package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
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
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.TrustDomain.IsZero() {
		bad("missing required key \"trust_domain\" in agent block (or -trustDomain)")
	}
	if a.ServerAddress == "" {
		bad("missing required key \"server_address\" in agent block (or -serverAddress)")
	}
	if a.DataDir == "" {
		bad("missing required key \"data_dir\" in agent block (or -dataDir)")
	}
	if a.SocketPath == "" {
		bad("socket_path must not be empty")
	}
	if err := a.validateBootstrap(); err != nil {
		errs = append(errs, err)
	}
	if err := checkPort(a.ServerPort); err != nil {
		bad("server_port: %w", err)
	}
	if err := checkPort(a.Health.BindPort); err != nil {
		bad("health_checks bind_port: %w", err)
	}
	if _, err := ParseLogLevel(a.LogLevel); err != nil {
		bad("log_level: %w", err)
	}
	if err := checkLogFormat(a.LogFormat); err != nil {
		bad("log_format: %w", err)
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
	if err := errors.Join(errs...); err != nil {
		if a.Source != "" {
			return fmt.Errorf("%s: %w", a.Source, err)
		}
		return err
	}
	return nil
}

// validateBootstrap checks that exactly one way of trusting the server on
// first contact is configured.
func (a *Agent) validateBootstrap() error {
	n := 0
	for _, set := range []bool{a.TrustBundlePath != "", a.TrustBundleURL != "", a.InsecureBootstrap} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return errors.New("missing trust bundle: set trust_bundle_path or trust_bundle_url, or insecure_bootstrap = true")
	case n > 1:
		return errors.New("only one of trust_bundle_path, trust_bundle_url and insecure_bootstrap may be set")
	}
	if a.TrustBundleURL != "" {
		u, err := url.Parse(a.TrustBundleURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("trust_bundle_url %q: want an https:// URL", a.TrustBundleURL)
		}
	}
	switch strings.ToLower(a.TrustBundleFormat) {
	case BundleFormatPEM, BundleFormatSPIFFE:
	default:
		return fmt.Errorf("trust_bundle_format: unknown format %q (want pem or spiffe)", a.TrustBundleFormat)
	}
	return nil
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
