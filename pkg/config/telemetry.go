package config

import (
	"net"
	"strconv"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/svidkit/svidkit/pkg/hcldecode"
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
func (d *decoder) telemetryBlock(t *Telemetry) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		body, ok := d.Object(it)
		if !ok {
			return
		}
		d.Block("telemetry block", body, map[string]hcldecode.Field{
			"Prometheus": func(it *ast.ObjectItem) {
				p, ok := d.Object(it)
				if !ok {
					return
				}
				t.PrometheusEnabled = true
				t.PrometheusHost = "localhost"
				d.Block("Prometheus block", p, map[string]hcldecode.Field{
					"host": d.String(&t.PrometheusHost),
					"port": d.Int(&t.PrometheusPort),
				}, nil)
				if t.PrometheusPort == 0 {
					d.Errorf(it.Pos(), "telemetry Prometheus: missing required key \"port\"")
				}
			},
			"InMem": func(it *ast.ObjectItem) {
				d.Warnf(it.Pos(), "telemetry InMem sink is ignored; svidkit serves Prometheus metrics")
			},
			"EnableHostnameLabel": func(it *ast.ObjectItem) {
				d.Warnf(it.Pos(), "telemetry EnableHostnameLabel is ignored")
			},
		}, telemetryUnsupported)
	}
}
