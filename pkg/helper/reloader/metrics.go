package reloader

import (
	"maps"
	"sync"
)

// Signal targets, the keys of Counts.SignalsSent and Counts.SignalErrors.
const (
	targetChild   = "child"
	targetPIDFile = "pidfile"
)

// Counts is a snapshot of what a Reloader did, for metrics and tests.
// Each map is keyed by a label value and holds only values seen so far.
type Counts struct {
	// SignalsSent and SignalErrors count renew signals delivered and
	// failed, by target: "child" or "pidfile".
	SignalsSent, SignalErrors map[string]uint64
	// ChildStarts counts starts of cmd by result: "ok" or "error".
	ChildStarts map[string]uint64
	// ChildExits counts exits of cmd by outcome: "success" or "failure".
	ChildExits map[string]uint64
}

// metrics counts what the Reloader did. It is plain counters rather than
// a metrics library: the helper binary links no Prometheus client (its
// size is resident memory, see cmd/helper), and the helper renders these
// counts on /metrics itself.
type metrics struct {
	mu           sync.Mutex
	signals      counterVec
	signalErrors counterVec
	starts       counterVec
	exits        counterVec
}

// counterVec is a counter by label value. Callers hold metrics.mu.
type counterVec map[string]uint64

func newMetrics() *metrics {
	return &metrics{signals: counterVec{}, signalErrors: counterVec{}, starts: counterVec{}, exits: counterVec{}}
}

// inc adds one to c's counter for label.
func (m *metrics) inc(c counterVec, label string) {
	m.mu.Lock()
	c[label]++
	m.mu.Unlock()
}

// Counts returns what the Reloader did so far.
func (r *Reloader) Counts() Counts {
	m := r.metrics
	m.mu.Lock()
	defer m.mu.Unlock()
	return Counts{
		SignalsSent:  maps.Clone(m.signals),
		SignalErrors: maps.Clone(m.signalErrors),
		ChildStarts:  maps.Clone(m.starts),
		ChildExits:   maps.Clone(m.exits),
	}
}
