package sdsbridge

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/sds"
	"github.com/svidkit/svidkit/pkg/sockwatch"
	"github.com/svidkit/svidkit/pkg/taskrun"
	"github.com/svidkit/svidkit/pkg/wlclient"
)

// Default reconnect delays: a returning Workload API is noticed within
// about two seconds even without the socket watch.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
)

// Config configures a Bridge.
type Config struct {
	// Address is the Workload API address: "unix:///path", "tcp://ip:port",
	// or a bare socket path. Required.
	Address string
	// MinBackoff is the first delay before reconnecting after a failure.
	// Default DefaultMinBackoff; a value above MaxBackoff is lowered to it.
	MinBackoff time.Duration
	// MaxBackoff caps the delay between reconnect attempts. Default
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Log receives connection events. Default: discard.
	Log *slog.Logger
	// Registerer, if set, receives the bridge's metrics.
	Registerer prometheus.Registerer
}

// Bridge is an sds.Source fed by the Workload API: every SDS stream gets
// the snapshots of the workload the bridge itself runs as. Create it with
// New and run it with Run.
type Bridge struct {
	addr    string
	backoff wlclient.Backoff
	log     *slog.Logger
	metrics *metrics
	// failing is set from a watch error to the next update, so that a
	// run of retries logs one warning.
	failing atomic.Bool

	mu      sync.Mutex
	current *sds.Snapshot
	watches map[*watch]struct{}
	stopped bool
}

var _ sds.Source = (*Bridge)(nil)

// New returns a Bridge for cfg. It does not connect; Run does.
func New(cfg Config) (*Bridge, error) {
	addr, err := NormalizeAddress(cfg.Address)
	if err != nil {
		return nil, err
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Bridge{
		addr:    addr,
		backoff: wlclient.Backoff{Min: min(cfg.MinBackoff, cfg.MaxBackoff), Max: cfg.MaxBackoff},
		log:     cfg.Log,
		metrics: m,
		watches: make(map[*watch]struct{}),
	}, nil
}

// NormalizeAddress returns a Workload API address in go-spiffe's form: a
// bare path becomes "unix://path"; "unix:" and "tcp:" addresses are kept.
func NormalizeAddress(addr string) (string, error) {
	switch {
	case addr == "":
		return "", fmt.Errorf("workload API address is empty (set agent_address, -agent-address or SPIFFE_ENDPOINT_SOCKET)")
	case strings.HasPrefix(addr, "unix:"), strings.HasPrefix(addr, "tcp:"):
		return addr, nil
	case strings.HasPrefix(addr, "/"):
		return "unix://" + addr, nil
	default:
		return "", fmt.Errorf("workload API address %q: want an absolute socket path, unix:///path or tcp://ip:port", addr)
	}
}

// Address returns the Workload API address in use.
func (b *Bridge) Address() string { return b.addr }

// Run connects to the Workload API and publishes each X.509 context until
// ctx ends, reconnecting as needed. It returns nil on cancel; then every
// open watch ends and new ones are refused.
func (b *Bridge) Run(ctx context.Context) error {
	defer b.stop()
	sw := sockwatch.New(b.addr, sockwatch.WithLogger(b.log))
	return taskrun.Run(ctx,
		taskrun.Task{Name: "workload API socket watch", Run: sw.Run},
		taskrun.Task{Name: "workload API", Run: (&wlclient.Loop{
			Session:   b.session,
			Reconnect: sw.Changed(),
			Backoff:   b.backoff,
			Address:   b.addr,
			Log:       b.log,
		}).Run},
	)
}

// Ready reports whether a snapshot with at least one SVID has been
// received, that is whether SDS can serve the default SVID.
func (b *Bridge) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current != nil && len(b.current.SVIDs) > 0
}

// Current returns the latest snapshot, or nil before the first one. The
// snapshot must not be modified.
func (b *Bridge) Current() *sds.Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current
}

// publish makes s the current snapshot and offers it to every watch.
func (b *Bridge) publish(s *sds.Snapshot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	b.current = s
	for w := range b.watches {
		w.offer(s)
	}
	b.metrics.updates.Inc()
}

// stop ends every watch and refuses new ones.
func (b *Bridge) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	for w := range b.watches {
		w.end()
	}
}
