package csicli

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/svidkit/svidkit/pkg/csi"
	"github.com/svidkit/svidkit/pkg/csid"
)

// pluginNameRE is the CSI spec's rule for a plugin name: a domain-style
// name of at most 63 characters starting and ending with a letter.
var pluginNameRE = regexp.MustCompile(`^[a-zA-Z][A-Za-z0-9._-]{0,61}[a-zA-Z]$`)

// config validates the flags and returns the daemon's configuration,
// each error naming its flag.
func (f *flags) config(opts Options) (csid.Config, error) {
	var cfg csid.Config
	switch {
	case f.socketDir == "":
		return cfg, fmt.Errorf("-workload-api-socket-dir is required: the directory holding the agent's Workload API socket")
	case !filepath.IsAbs(f.socketDir):
		return cfg, fmt.Errorf("-workload-api-socket-dir %q is not an absolute path", f.socketDir)
	case f.csiSocket == "":
		return cfg, fmt.Errorf("-csi-socket-path is empty")
	case !pluginNameRE.MatchString(f.pluginName):
		return cfg, fmt.Errorf("-plugin-name %q is not a CSI plugin name (letters, digits, '.', '-', '_'; at most 63; starting and ending with a letter)", f.pluginName)
	}
	nodeID := f.nodeID
	if nodeID == "" && f.nodeIDEnv != "" {
		nodeID = opts.Getenv(f.nodeIDEnv)
	}
	if nodeID == "" {
		return cfg, fmt.Errorf("no node ID: set -node-id, or the environment variable %q (-node-id-env) from spec.nodeName", f.nodeIDEnv)
	}
	cfg.Driver = csi.Config{
		PluginName:           f.pluginName,
		Version:              opts.Version,
		NodeID:               nodeID,
		WorkloadAPISocketDir: filepath.Clean(f.socketDir),
	}
	cfg.CSISocketPath = f.csiSocket
	cfg.HealthAddress = f.health
	return cfg, nil
}
