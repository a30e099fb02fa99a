package kubeenv_test

import (
	"testing"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/internal/kubeenv"
)

// BenchmarkStart reports how long kube-apiserver takes to become ready
// (etcd starting beside it) and the peak resident memory of the pair
// after start-up.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		env := kubeenv.Start(b)
		b.ReportMetric(env.StartupTime.Seconds(), "s-ready")
		var hwm float64
		for _, pid := range env.PIDs() {
			hwm += benchmetric.ProcStatusMiB(b, pid, "VmHWM:")
		}
		b.ReportMetric(hwm, "MiB-peak-rss-pair")
		if err := env.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}
