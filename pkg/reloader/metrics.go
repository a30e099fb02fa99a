package reloader

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Signal targets, the "target" label of the signal counters.
const (
	targetChild   = "child"
	targetPIDFile = "pidfile"
)

// metrics counts what the Reloader did. Its counters always exist; they are
// registered only when a Registerer is given.
type metrics struct {
	signals      *prometheus.CounterVec
	signalErrors *prometheus.CounterVec
	starts       *prometheus.CounterVec
	exits        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "svidkit", Subsystem: "helper", Name: name, Help: help}
	}
	m := &metrics{
		signals: prometheus.NewCounterVec(opts("signals_sent_total",
			"Renew signals delivered, by target (child, pidfile)."), []string{"target"}),
		signalErrors: prometheus.NewCounterVec(opts("signal_errors_total",
			"Renew signals that could not be delivered, by target (child, pidfile)."), []string{"target"}),
		starts: prometheus.NewCounterVec(opts("child_starts_total",
			"Child process starts, by result (ok, error)."), []string{"result"}),
		exits: prometheus.NewCounterVec(opts("child_exits_total",
			"Child process exits, by outcome (success, failure)."), []string{"outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.signals, &m.signalErrors, &m.starts, &m.exits} {
		got, err := register(reg, *c)
		if err != nil {
			return nil, err
		}
		*c = got
	}
	return m, nil
}

// register registers c, reusing an identical collector already registered.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return nil, fmt.Errorf("register metrics: %w", err)
}
