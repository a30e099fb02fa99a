package sdsconfig

import (
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/svidkit/svidkit/pkg/hcldecode"
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

// TopLevel is the block of the file's top-level keys in Config.Lines (and
// in messages), as in the other svidkit configurations.
const TopLevel = "top level"

// HealthBlock is the block of the health_checks keys in Config.Lines.
const HealthBlock = "health_checks"

// Config is the bridge's runtime configuration.
type Config struct {
	// Source names the file the configuration was read from; "" when none.
	Source string
	// Lines holds the line of each key Decode read, so that Validate can
	// name it; the zero value (flags and defaults only) has none. A flag
	// that overrides a key forgets its line.
	Lines hcldecode.Lines

	// AgentAddress is the Workload API: a socket path, unix:///path or
	// tcp://ip:port. Empty means SPIFFE_ENDPOINT_SOCKET.
	AgentAddress string
	// ListenAddresses are where SDS is served: Unix socket paths (or
	// unix:///path) and loopback host:port pairs.
	ListenAddresses []string
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

// Validate reports every invalid setting, one per line, each named by its
// key and, when Decode read the key from a file, prefixed with the file
// and the key's line ("sds.conf:4: listen_address ..."), as the other
// svidkit configurations report theirs.
func (c Config) Validate() error {
	p := hcldecode.Problems{File: c.Source}
	top := func(key string) int { return c.Lines.Line(TopLevel, key) }
	if c.AgentAddress == "" {
		p.At(top("agent_address"), "agent_address: not set (nor is %s)", EndpointSocketEnv)
	} else if _, err := sdsbridge.NormalizeAddress(c.AgentAddress); err != nil {
		p.At(top("agent_address"), "agent_address: %v", err)
	}
	if len(c.ListenAddresses) == 0 {
		p.At(top("listen_address"), "listen_address: not set")
	}
	if _, err := c.Listeners(); err != nil {
		p.At(top("listen_address"), "%v", err)
	} else if err := c.checkTCP(); err != nil {
		p.At(top("listen_address"), "%v", err)
	}
	if c.ListenSocketMode&^0o777 != 0 {
		p.At(top("listen_socket_mode"), "listen_socket_mode: %#o is not a permission mode", c.ListenSocketMode)
	}
	names := map[string]string{}
	for _, n := range []struct{ key, val string }{
		{"default_svid_name", c.DefaultSVIDName},
		{"default_bundle_name", c.DefaultBundleName},
		{"default_all_bundles_name", c.DefaultAllBundlesName},
	} {
		if n.val == "" {
			p.At(top(n.key), "%s: empty", n.key)
			continue
		}
		if other, dup := names[n.val]; dup {
			p.At(top(n.key), "%s: %q is also %s", n.key, n.val, other)
		}
		names[n.val] = n.key
	}
	if h := c.HealthChecks; h.ListenerEnabled {
		health := func(key string) int { return c.Lines.Line(HealthBlock, key) }
		if h.BindPort < 0 || h.BindPort > 65535 {
			p.At(health("bind_port"), "health_checks.bind_port: %d is not a port", h.BindPort)
		}
		for _, path := range []struct{ key, val string }{{"live_path", h.LivePath}, {"ready_path", h.ReadyPath}} {
			if !strings.HasPrefix(path.val, "/") {
				p.At(health(path.key), "health_checks.%s: %q must start with /", path.key, path.val)
			}
		}
		if h.LivePath == h.ReadyPath {
			p.At(health("ready_path"), "health_checks.ready_path: same as live_path %q", h.LivePath)
		}
	}
	return p.Err()
}
