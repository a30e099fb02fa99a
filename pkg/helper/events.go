package helper

import "time"

// eventBuffer is the capacity of the Events channel.
const eventBuffer = 64

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	// EventWrite: a set was handed to the writer successfully (Changed
	// says whether anything was rewritten).
	EventWrite EventKind = iota + 1
	// EventWriteError: building or writing a set failed (Err).
	EventWriteError
	// EventRepair: files changed behind the helper's back were rewritten.
	EventRepair
)

// Event describes one write of the file set. It is an observation API for
// monitoring and for measuring the helper (tests and benchmarks use it); the
// helper never waits for a reader.
type Event struct {
	Kind EventKind
	// Output names what triggered the write: "x509", "jwt_svid" or
	// "jwt_bundle", "retry" when a set that failed to write is written
	// again (see Helper.Run), "repair" for EventRepair.
	Output string
	// Received is when the Workload API delivered the material.
	Received time.Time
	// Done is when the write was durable on disk and the reloader notified.
	Done time.Time
	// Changed reports whether files were rewritten.
	Changed bool
	// Notified reports whether the reloader was notified.
	Notified bool
	// SPIFFEID and Serial identify the X.509-SVID written (Output "x509").
	SPIFFEID, Serial string
	// Err is set for EventWriteError.
	Err error
}

// Events returns a channel of write events. Events are dropped while the
// channel is full, so a slow reader never slows the helper down.
func (h *Helper) Events() <-chan Event { return h.events }

func (h *Helper) emit(e Event) {
	select {
	case h.events <- e:
	default:
	}
}
