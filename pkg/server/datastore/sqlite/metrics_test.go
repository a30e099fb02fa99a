package sqlite_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/storetest"
)

// TestStoreWithMetrics runs the semantics suite through the counting
// wrapper: it forwards every method unchanged.
func TestStoreWithMetrics(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) datastore.Store {
		s, err := datastore.WithMetrics(openTemp(t), nil)
		if err != nil {
			t.Fatalf("WithMetrics: %v", err)
		}
		return s
	})
}

// TestWithMetricsCounts: each call counts once under its method, failed
// calls included, and the wrapper keeps the SQLite store's announcements
// of its own writes.
func TestWithMetricsCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := datastore.WithMetrics(openTemp(t), reg)
	if err != nil {
		t.Fatalf("WithMetrics: %v", err)
	}
	if _, ok := s.(datastore.ChangeNotifier); !ok {
		t.Fatal("the wrapped SQLite store is not a ChangeNotifier; servers would poll it")
	}
	for range 3 {
		if _, err := s.GetAgent(t.Context(), "spiffe://td/spire/agent/x"); !errors.Is(err, datastore.ErrNotFound) {
			t.Fatalf("GetAgent = %v, want ErrNotFound", err)
		}
	}
	if _, err := s.EntriesRevision(t.Context()); err != nil {
		t.Fatalf("EntriesRevision: %v", err)
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "svidkit_datastore_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"GetAgent": 3, "EntriesRevision": 1}
	if !maps.Equal(got, want) {
		t.Fatalf("svidkit_datastore_calls_total by method = %v, want %v", got, want)
	}
}
