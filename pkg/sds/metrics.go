package sds

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/metricreg"
)

// metrics are the SDS counters; they work unregistered when no Registerer
// is given.
type metrics struct {
	streams *prometheus.GaugeVec
	pushes  *prometheus.CounterVec
	nacks   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "svidkit", Subsystem: "sds", Name: "active_streams",
			Help: "Open SDS streams by protocol (sotw, delta).",
		}, []string{"protocol"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "sds", Name: "pushes_total",
			Help: "SDS responses sent by protocol (sotw, delta, fetch).",
		}, []string{"protocol"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "sds", Name: "nacks_total",
			Help: "SDS responses Envoy rejected, by protocol.",
		}, []string{"protocol"}),
	}
	if reg == nil {
		return m
	}
	m.streams = register(reg, m.streams, log)
	m.pushes = register(reg, m.pushes, log)
	m.nacks = register(reg, m.nacks, log)
	return m
}

// register registers c, reusing an identical collector that is already
// registered (two handlers on one registry share their counters).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
	got, err := metricreg.Register(reg, c)
	if err != nil {
		log.Warn("sds: register metric", "error", err)
		return c
	}
	return got
}
