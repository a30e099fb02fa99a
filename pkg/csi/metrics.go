package csi

import (
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/svidkit/svidkit/pkg/metricreg"
)

// metrics are the driver's Prometheus counters.
type metrics struct {
	publishes, unpublishes prometheus.Counter
	stackedRemoved         prometheus.Counter
	errors                 *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var m metrics
	var err error
	if m.publishes, err = metricreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "svidkit_csi_publishes_total",
		Help: "NodePublishVolume calls that succeeded (a new mount, or the one already there).",
	})); err != nil {
		return nil, err
	}
	if m.unpublishes, err = metricreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "svidkit_csi_unpublishes_total",
		Help: "NodeUnpublishVolume calls that succeeded.",
	})); err != nil {
		return nil, err
	}
	if m.stackedRemoved, err = metricreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "svidkit_csi_replaced_mounts_total",
		Help: "Mounts found on a target at publish (stacked, stale or read-write) and taken off before the one read-only bind.",
	})); err != nil {
		return nil, err
	}
	if m.errors, err = metricreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "svidkit_csi_errors_total",
		Help: "Failed CSI calls by method and gRPC code (InvalidArgument for refused volumes).",
	}, []string{"method", "code"})); err != nil {
		return nil, err
	}
	return &m, nil
}

// failed counts a failed call.
func (m *metrics) failed(method string, code codes.Code) {
	m.errors.WithLabelValues(method, code.String()).Inc()
}
