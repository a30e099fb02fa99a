package registrar

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/metricreg"
)

// metrics are the registrar's Prometheus metrics.
type metrics struct {
	reconcile      *prometheus.HistogramVec
	queueDepth     prometheus.Gauge
	podLatency     prometheus.Histogram
	renderFailures *prometheus.CounterVec
	entriesOwned   prometheus.Gauge
	writes         *prometheus.CounterVec
	leader         prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reconcile: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "svidkit_registrar_reconcile_duration_seconds",
			Help:    "Time to reconcile one key (a pod, the static entries, the federation relationships, a status), by kind.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"kind"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "svidkit_registrar_queue_depth",
			Help: "Keys waiting in the registrar's work queue.",
		}),
		podLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "svidkit_registrar_pod_entry_latency_seconds",
			Help:    "Time from a scheduled pod's first event to its entries being in the datastore.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		renderFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svidkit_registrar_render_failures_total",
			Help: "Entries that failed to render, by resource kind and name.",
		}, []string{"kind", "name"}),
		entriesOwned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "svidkit_registrar_entries_owned",
			Help: "Registration entries carrying the registrar's owner mark.",
		}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svidkit_registrar_entry_writes_total",
			Help: "Entry writes by the registrar, by operation (create, update, delete) and result.",
		}, []string{"op", "result"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "svidkit_registrar_leader",
			Help: "1 while this server holds the registrar's Lease and reconciles.",
		}),
	}
	var err error
	if m.reconcile, err = metricreg.Register(reg, m.reconcile); err != nil {
		return nil, err
	}
	if m.queueDepth, err = metricreg.Register(reg, m.queueDepth); err != nil {
		return nil, err
	}
	if m.podLatency, err = metricreg.Register(reg, m.podLatency); err != nil {
		return nil, err
	}
	if m.renderFailures, err = metricreg.Register(reg, m.renderFailures); err != nil {
		return nil, err
	}
	if m.entriesOwned, err = metricreg.Register(reg, m.entriesOwned); err != nil {
		return nil, err
	}
	if m.writes, err = metricreg.Register(reg, m.writes); err != nil {
		return nil, err
	}
	if m.leader, err = metricreg.Register(reg, m.leader); err != nil {
		return nil, err
	}
	return m, nil
}
