package sdsbridge

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the bridge's Prometheus collectors.
type metrics struct {
	updates prometheus.Counter
	errors  prometheus.Counter
	watches prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		updates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_sds_bridge_workload_api_updates_total",
			Help: "X.509 context updates received from the Workload API.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svidkit_sds_bridge_workload_api_errors_total",
			Help: "Workload API watch errors (the last good snapshot stays served).",
		}),
		watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "svidkit_sds_bridge_watches",
			Help: "Open snapshot watches (one per SDS stream).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.updates, m.errors, m.watches} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register sds bridge metrics: %w", err)
		}
	}
	return m, nil
}
