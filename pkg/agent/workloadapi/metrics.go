package workloadapi

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/metricreg"
)

// metrics are the Handler's Prometheus collectors.
type metrics struct {
	activeStreams *prometheus.GaugeVec
	updatesSent   *prometheus.CounterVec
	attestation   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		activeStreams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "svidkit", Subsystem: "workloadapi", Name: "active_streams",
			Help: "Workload API streams currently open, by method.",
		}, []string{"method"}),
		updatesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "workloadapi", Name: "updates_sent_total",
			Help: "Responses sent on Workload API streams, by method.",
		}, []string{"method"}),
		attestation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "svidkit", Subsystem: "workloadapi", Name: "attestation_duration_seconds",
			Help:    "Time taken to attest a Workload API caller.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1},
		}),
	}
	if reg == nil {
		return m
	}
	m.activeStreams = register(reg, log, m.activeStreams)
	m.updatesSent = register(reg, log, m.updatesSent)
	m.attestation = register(reg, log, m.attestation)
	return m
}

// register registers c, or returns the collector already registered under
// the same name so that two Handlers on one registry share their metrics.
func register[C prometheus.Collector](reg prometheus.Registerer, log *slog.Logger, c C) C {
	got, err := metricreg.Register(reg, c)
	if err != nil {
		log.Warn("workload api: metric not registered", "error", err)
		return c
	}
	return got
}
