package config

import (
	"net"
	"strconv"

	"github.com/hashicorp/hcl/hcl/ast"
)

// Telemetry is the telemetry block: where Prometheus can scrape /metrics.
// Metrics are also served on the health_checks listener when it is enabled.
type Telemetry struct {
	// PrometheusEnabled is true when a Prometheus sink is configured.
	PrometheusEnabled bool
	// PrometheusHost defaults to "localhost", as in SPIRE.
	PrometheusHost string
	// PrometheusPort is the port of the /metrics listener.
	PrometheusPort int
}

// PrometheusAddr returns host:port of the Prometheus listener.
func (t Telemetry) PrometheusAddr() string {
	return net.JoinHostPort(t.PrometheusHost, strconv.Itoa(t.PrometheusPort))
}

// telemetryUnsupported lists SPIRE telemetry keys svidkit does not implement.
var telemetryUnsupported = setOf("DogStatsd", "Statsd", "M3", "MetricPrefix", "EnableTypePrefix",
	"AllowedPrefixes", "BlockedPrefixes", "AllowedLabels", "BlockedLabels")

// telemetryBlock decodes SPIRE's telemetry block. Prometheus is supported;
// InMem (a debugging sink) is accepted and ignored with a warning.
func (d *decoder) telemetryBlock(t *Telemetry) field {
	return func(it *ast.ObjectItem) {
		body, ok := d.object(it)
		if !ok {
			return
		}
		d.block("telemetry block", body, map[string]field{
			"Prometheus": func(it *ast.ObjectItem) {
				p, ok := d.object(it)
				if !ok {
					return
				}
				t.PrometheusEnabled = true
				t.PrometheusHost = "localhost"
				d.block("Prometheus block", p, map[string]field{
					"host": d.str(&t.PrometheusHost),
					"port": d.integer(&t.PrometheusPort),
				}, nil)
				if t.PrometheusPort == 0 {
					d.errorf(it.Pos(), "telemetry Prometheus: missing required key \"port\"")
				}
			},
			"InMem": func(it *ast.ObjectItem) {
				d.warnf(it.Pos(), "telemetry InMem sink is ignored; svidkit serves Prometheus metrics")
			},
			"EnableHostnameLabel": func(it *ast.ObjectItem) {
				d.warnf(it.Pos(), "telemetry EnableHostnameLabel is ignored")
			},
		}, telemetryUnsupported)
	}
}
