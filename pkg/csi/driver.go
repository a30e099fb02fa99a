package csi

import (
	"errors"
	"log/slog"
	"os"
	"sync"

	csispec "github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// DefaultPluginName is the driver name spiffe-csi-driver registers, so
// that pod manifests written for it work unchanged.
const DefaultPluginName = "csi.spiffe.io"

// Config configures a Driver.
type Config struct {
	// PluginName is the CSI driver name; default DefaultPluginName.
	PluginName string
	// Version is reported as the vendor version; default "dev".
	Version string
	// NodeID identifies this node to the kubelet. Required.
	NodeID string
	// WorkloadAPISocketDir is the directory holding the agent's Workload
	// API socket, as this process sees it. Required.
	WorkloadAPISocketDir string
	// Log receives one line per publish and unpublish and every error;
	// default slog.Default().
	Log *slog.Logger
	// Registerer receives the driver's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Driver implements the CSI Identity and Node services. Its methods are
// safe for concurrent use; publishes and unpublishes run one at a time.
type Driver struct {
	csispec.UnimplementedIdentityServer
	csispec.UnimplementedNodeServer

	cfg     Config
	metrics *metrics
	// mu serializes the mount operations: two RPCs for one target must
	// not both see it unmounted and both mount.
	mu sync.Mutex
}

// New returns a Driver for cfg with defaults filled in.
func New(cfg Config) (*Driver, error) {
	if cfg.NodeID == "" {
		return nil, errors.New("csi: node ID is empty")
	}
	if cfg.WorkloadAPISocketDir == "" {
		return nil, errors.New("csi: workload API socket directory is empty")
	}
	if cfg.PluginName == "" {
		cfg.PluginName = DefaultPluginName
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Driver{cfg: cfg, metrics: m}, nil
}

// Register registers the Identity and Node services on s.
func (d *Driver) Register(s *grpc.Server) {
	csispec.RegisterIdentityServer(s, d)
	csispec.RegisterNodeServer(s, d)
}

// Ready reports whether the Workload API socket directory exists: before
// the agent has created it there is nothing to publish.
func (d *Driver) Ready() bool {
	fi, err := os.Stat(d.cfg.WorkloadAPISocketDir)
	return err == nil && fi.IsDir()
}

// Name returns the CSI driver name the plugin reports.
func (d *Driver) Name() string { return d.cfg.PluginName }

// Version returns the vendor version the plugin reports.
func (d *Driver) Version() string { return d.cfg.Version }
