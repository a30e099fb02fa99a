package sdsconfig

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/svidkit/svidkit/pkg/sdsbridge"
)

// Defaults. The resource names are SPIRE agent's SDS defaults, so Envoy
// configurations written for SPIRE work unchanged.
const (
	DefaultListenAddress     = "/run/svidkit-sds/sds.sock"
	DefaultListenSocketMode  = os.FileMode(0o660)
	DefaultSVIDName          = "default"
	DefaultBundleName        = "ROOTCA"
	DefaultAllBundlesName    = "ALL"
	DefaultHealthBindAddress = "localhost"
	DefaultHealthBindPort    = 8081
	DefaultHealthLivePath    = "/live"
	DefaultHealthReadyPath   = "/ready"
	DefaultLogLevel          = "INFO"
	DefaultLogFormat         = "text"
	EndpointSocketEnv        = "SPIFFE_ENDPOINT_SOCKET"
)

// Config is the bridge's runtime configuration.
type Config struct {
	// AgentAddress is the Workload API: a socket path, unix:///path or
	// tcp://ip:port. Empty means SPIFFE_ENDPOINT_SOCKET.
	AgentAddress string
	// ListenAddresses are where SDS is served: Unix socket paths (or
	// unix:///path) and loopback host:port pairs.
	ListenAddresses []string
	// ListenAddressPos is "file:line" of listen_address when a file set
	// it, for messages; empty when flags or defaults did.
	ListenAddressPos string
	// AllowInsecureTCP (allow_insecure_tcp) permits TCP listeners. Any
	// local user can connect to one and fetch the private keys, so they
	// are refused without it, and logged as a warning with it.
	AllowInsecureTCP bool
	// ListenSocketMode is the permission of the Unix sockets.
	ListenSocketMode os.FileMode
	// SocketDirShared (socket_dir_shared) accepts a socket directory that
	// other users own or may write (an emptyDir shared with Envoy), with a
	// warning.
	SocketDirShared bool
	// Resource names, as in SPIRE's agent { sds { ... } }.
	DefaultSVIDName       string
	DefaultBundleName     string
	DefaultAllBundlesName string
	// DisableSPIFFECertValidation serves plain trusted_ca validation
	// contexts instead of Envoy's SPIFFE certificate validator.
	DisableSPIFFECertValidation bool
	LogLevel                    string
	LogFormat                   string
	HealthChecks                HealthChecks
}

// HealthChecks configures the /live, /ready and /metrics listener.
type HealthChecks struct {
	ListenerEnabled bool
	BindAddress     string
	BindPort        int
	LivePath        string
	ReadyPath       string
}

// Address returns the health listener's host:port.
func (h HealthChecks) Address() string {
	return net.JoinHostPort(h.BindAddress, strconv.Itoa(h.BindPort))
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		ListenAddresses:       []string{DefaultListenAddress},
		ListenSocketMode:      DefaultListenSocketMode,
		DefaultSVIDName:       DefaultSVIDName,
		DefaultBundleName:     DefaultBundleName,
		DefaultAllBundlesName: DefaultAllBundlesName,
		LogLevel:              DefaultLogLevel,
		LogFormat:             DefaultLogFormat,
		HealthChecks: HealthChecks{
			BindAddress: DefaultHealthBindAddress,
			BindPort:    DefaultHealthBindPort,
			LivePath:    DefaultHealthLivePath,
			ReadyPath:   DefaultHealthReadyPath,
		},
	}
}

// ResolveAgentAddress fills an empty AgentAddress from getenv's
// SPIFFE_ENDPOINT_SOCKET.
func (c *Config) ResolveAgentAddress(getenv func(string) string) {
	if c.AgentAddress == "" {
		c.AgentAddress = getenv(EndpointSocketEnv)
	}
}

// Validate reports every invalid setting, each named by its key.
func (c Config) Validate() error {
	var errs []error
	if c.AgentAddress == "" {
		errs = append(errs, fmt.Errorf("agent_address: not set (nor is %s)", EndpointSocketEnv))
	} else if _, err := sdsbridge.NormalizeAddress(c.AgentAddress); err != nil {
		errs = append(errs, fmt.Errorf("agent_address: %w", err))
	}
	if len(c.ListenAddresses) == 0 {
		errs = append(errs, errors.New("listen_address: not set"))
	}
	if _, err := c.Listeners(); err != nil {
		errs = append(errs, err)
	} else if err := c.checkTCP(); err != nil {
		errs = append(errs, err)
	}
	if c.ListenSocketMode&^0o777 != 0 {
		errs = append(errs, fmt.Errorf("listen_socket_mode: %#o is not a permission mode", c.ListenSocketMode))
	}
	names := map[string]string{}
	for _, n := range []struct{ key, val string }{
		{"default_svid_name", c.DefaultSVIDName},
		{"default_bundle_name", c.DefaultBundleName},
		{"default_all_bundles_name", c.DefaultAllBundlesName},
	} {
		if n.val == "" {
			errs = append(errs, fmt.Errorf("%s: empty", n.key))
			continue
		}
		if other, dup := names[n.val]; dup {
			errs = append(errs, fmt.Errorf("%s: %q is also %s", n.key, n.val, other))
		}
		names[n.val] = n.key
	}
	if h := c.HealthChecks; h.ListenerEnabled {
		if h.BindPort < 0 || h.BindPort > 65535 {
			errs = append(errs, fmt.Errorf("health_checks.bind_port: %d is not a port", h.BindPort))
		}
		for _, p := range []struct{ key, val string }{{"health_checks.live_path", h.LivePath}, {"health_checks.ready_path", h.ReadyPath}} {
			if !strings.HasPrefix(p.val, "/") {
				errs = append(errs, fmt.Errorf("%s: %q must start with /", p.key, p.val))
			}
		}
		if h.LivePath == h.ReadyPath {
			errs = append(errs, fmt.Errorf("health_checks.ready_path: same as live_path %q", h.LivePath))
		}
	}
	return errors.Join(errs...)
}
