package helper

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the helper's own Prometheus metrics; the reloader registers
// the signal counters (svidkit_helper_signals_sent_total and friends).
type metrics struct {
	lastWrite   prometheus.Gauge
	svidExpiry  prometheus.Gauge
	writeErrors prometheus.Counter
	repairs     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "svidkit", Subsystem: "helper", Name: name, Help: help})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "svidkit", Subsystem: "helper", Name: name, Help: help})
	}
	m := &metrics{
		lastWrite:   gauge("last_write_timestamp_seconds", "Unix time of the last write that changed the files."),
		svidExpiry:  gauge("x509_svid_expiry_timestamp_seconds", "Unix time at which the X.509-SVID on disk expires."),
		writeErrors: counter("write_errors_total", "Failed attempts to build or write the file set."),
		repairs:     counter("repairs_total", "File sets rewritten after they were changed or deleted behind the helper's back."),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.lastWrite, m.svidExpiry, m.writeErrors, m.repairs} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) {
				return nil, fmt.Errorf("register metrics: a helper is already registered on this registry: %w", err)
			}
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
