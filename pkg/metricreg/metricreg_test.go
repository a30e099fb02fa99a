package metricreg_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/svidkit/svidkit/pkg/metricreg"
)

func counter(help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "things_total", Help: help})
}

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := metricreg.Register(reg, counter("Things."))
	if err != nil {
		t.Fatalf("first: %v", err)
	}
	// A second instance of the same metric shares the first's counter.
	second, err := metricreg.Register(reg, counter("Things."))
	if err != nil {
		t.Fatalf("second: %v", err)
	}
	second.Inc()
	var m dto.Metric
	if err := first.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("first counter = %v after the second's Inc, want 1 (shared)", got)
	}
	// A different collector under the same name is an error.
	if _, err := metricreg.Register(reg, counter("Other help.")); err == nil || !strings.Contains(err.Error(), "register metric") {
		t.Errorf("conflicting registration: err = %v, want a register metric error", err)
	}
	// No registry: nothing registered, the collector returned as is.
	c := counter("Things.")
	if got, err := metricreg.Register(nil, c); err != nil || got != c {
		t.Errorf("nil registry: got %v, %v; want the collector and no error", got, err)
	}
}
