// Package metricreg registers Prometheus collectors so that several
// instances of one component in a process (two servers in a test, two
// handlers on one registry) share their metrics instead of failing.
package metricreg

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns it, or returns the collector
// of the same type already registered under the same description. A nil
// reg registers nothing and returns c. Any other registration error (a
// different collector under the same name) is returned with c's zero value.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	var zero C
	return zero, fmt.Errorf("register metric: %w", err)
}
