package oidc

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts requests and reports the served key set's size.
type metrics struct {
	requests *prometheus.CounterVec
	keys     prometheus.Gauge
	dropped  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "server_oidc", Name: "requests_total",
			Help: "OIDC discovery endpoint requests, by path (discovery, keys, other) and HTTP status code.",
		}, []string{"path", "code"}),
		keys: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "svidkit", Subsystem: "server_oidc", Name: "jwks_keys",
			Help: "JWT keys served in the OIDC discovery JWKS.",
		}),
		dropped: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "svidkit", Subsystem: "server_oidc", Name: "jwks_keys_dropped",
			Help: "JWT keys of the bundle left out of the OIDC discovery JWKS by its key cap (oldest first).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.keys, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("oidc: register metrics: %w", err)
		}
	}
	return m, nil
}

// statusWriter remembers the status code written, for the request count.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
