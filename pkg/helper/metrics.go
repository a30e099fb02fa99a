package helper

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/svidkit/svidkit/pkg/helper/reloader"
)

// metrics are the helper's own metrics; the reloader counts signals and
// child starts and exits (reloader.Counts), and /metrics shows both.
//
// They are served in the Prometheus text format by a few lines of code
// rather than with the Prometheus client library: that library (with its
// protobuf model, procfs and expfmt) is about 0.75 MB of the helper binary
// and about 0.9 MiB of its resident memory, for six series.
type metrics struct {
	lastWrite   gauge
	svidExpiry  gauge
	writeErrors counter
	repairs     counter
}

// gauge is a float64 metric that can go up and down.
type gauge struct{ bits atomic.Uint64 }

// Set sets the gauge to v.
func (g *gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

func (g *gauge) value() float64 { return math.Float64frombits(g.bits.Load()) }

// counter is a metric that only goes up.
type counter struct{ n atomic.Uint64 }

// Inc adds one.
func (c *counter) Inc() { c.n.Add(1) }

// metricsHandler serves the helper's metrics and, when counts is not nil,
// the reloader's, in the Prometheus text exposition format (version 0.0.4).
func (h *Helper) metricsHandler(counts func() reloader.Counts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		h.writeMetrics(bw, counts)
		_ = bw.Flush()
	})
}

// writeMetrics writes every metric in the Prometheus text format.
func (h *Helper) writeMetrics(w io.Writer, counts func() reloader.Counts) {
	m := h.metrics
	single(w, "last_write_timestamp_seconds", "gauge", "Unix time of the last write that changed the files.", m.lastWrite.value())
	single(w, "x509_svid_expiry_timestamp_seconds", "gauge", "Unix time at which the X.509-SVID on disk expires.", m.svidExpiry.value())
	single(w, "write_errors_total", "counter", "Failed attempts to build or write the file set.", float64(m.writeErrors.n.Load()))
	single(w, "repairs_total", "counter", "File sets rewritten after they were changed or deleted behind the helper's back.", float64(m.repairs.n.Load()))
	if counts == nil {
		return
	}
	c := counts()
	labelled(w, "signals_sent_total", "Renew signals delivered, by target (child, pidfile).", "target", c.SignalsSent)
	labelled(w, "signal_errors_total", "Renew signals that could not be delivered, by target (child, pidfile).", "target", c.SignalErrors)
	labelled(w, "child_starts_total", "Child process starts, by result (ok, error).", "result", c.ChildStarts)
	labelled(w, "child_exits_total", "Child process exits, by outcome (success, failure).", "outcome", c.ChildExits)
}

const metricPrefix = "svidkit_helper_"

func header(w io.Writer, name, typ, help string) {
	_, _ = io.WriteString(w, "# HELP "+metricPrefix+name+" "+help+"\n# TYPE "+metricPrefix+name+" "+typ+"\n")
}

func single(w io.Writer, name, typ, help string, v float64) {
	header(w, name, typ, help)
	_, _ = io.WriteString(w, metricPrefix+name+" "+formatFloat(v)+"\n")
}

// labelled writes a counter with one label; label values are fixed
// identifiers (child, ok, …) that need no escaping.
func labelled(w io.Writer, name, help, label string, values map[string]uint64) {
	header(w, name, "counter", help)
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		_, _ = io.WriteString(w, metricPrefix+name+"{"+label+"=\""+k+"\"} "+strconv.FormatUint(values[k], 10)+"\n")
	}
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
