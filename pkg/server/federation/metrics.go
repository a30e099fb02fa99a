package federation

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/metricreg"
)

// endpointMetrics counts bundle endpoint requests.
type endpointMetrics struct {
	requests *prometheus.CounterVec
	// byCode holds the counters of the codes the handler answers,
	// resolved once; it is not modified after newEndpointMetrics.
	byCode map[int]prometheus.Counter
}

// endpointCodes are the status codes the handler answers.
func endpointCodes() []int { return []int{200, 304, 404, 405, 503} }

func newEndpointMetrics(reg prometheus.Registerer) (*endpointMetrics, error) {
	m := &endpointMetrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "svidkit", Subsystem: "server", Name: "federation_endpoint_requests_total",
		Help: "Bundle endpoint requests, by HTTP status code.",
	}, []string{"code"})}
	var err error
	if m.requests, err = metricreg.Register(reg, m.requests); err != nil {
		return nil, err
	}
	m.byCode = make(map[int]prometheus.Counter)
	for _, c := range endpointCodes() {
		m.byCode[c] = m.requests.WithLabelValues(strconv.Itoa(c))
	}
	return m, nil
}

func (m *endpointMetrics) served(code int) {
	if c, ok := m.byCode[code]; ok {
		c.Inc()
		return
	}
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
}

// fetchMetrics counts foreign bundle fetches.
type fetchMetrics struct {
	failures *prometheus.CounterVec
	updates  *prometheus.CounterVec
}

func newFetchMetrics(reg prometheus.Registerer) (*fetchMetrics, error) {
	m := &fetchMetrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "server", Name: "federation_fetch_failures_total",
			Help: "Foreign bundle fetches refused or failed (the last good bundle is kept), by trust domain and reason.",
		}, []string{"trust_domain", "reason"}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "svidkit", Subsystem: "server", Name: "federation_bundle_updates_total",
			Help: "Foreign bundles stored because they changed, by trust domain.",
		}, []string{"trust_domain"}),
	}
	var err error
	if m.failures, err = metricreg.Register(reg, m.failures); err != nil {
		return nil, err
	}
	if m.updates, err = metricreg.Register(reg, m.updates); err != nil {
		return nil, err
	}
	return m, nil
}
