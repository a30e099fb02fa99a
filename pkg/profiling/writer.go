package profiling

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/svidkit/svidkit/pkg/atomicfile"
)

// stampLayout is the time in profile file names, SPIRE's.
const stampLayout = "2006-01-02_150405"

// Writer writes the named profiles into Dir every Interval, as
// <stamp>_<Tag>_<name>.pb.gz (SPIRE's names; a trace file keeps the
// suffix although it is a Go execution trace). Snapshots (heap, goroutine,
// ...) are taken at each tick, the heap after a garbage collection as in
// SPIRE; cpu and trace record from one tick to the next. Files are mode
// 0600 and appear complete (written under a hidden name, then renamed).
// Old files are not removed.
type Writer struct {
	// Dir is created 0700 if absent, and made 0700 if it exists.
	Dir string
	// Tag names the daemon in file names.
	Tag string
	// Interval is the time between two writes; it must be positive.
	Interval time.Duration
	// Names are the profiles to write; each must be Known.
	Names []string
	// Log receives the start and any failure to write a profile.
	Log *slog.Logger
}

// Run writes profiles until ctx ends, then stops recording, removes the
// partial cpu and trace files and returns nil. It returns an error if a
// name is unknown or Dir cannot be made. Failures to write one profile are
// logged and retried at the next tick.
func (w *Writer) Run(ctx context.Context) error {
	var names []string
	for _, n := range w.Names {
		if !Known(n) {
			return fmt.Errorf("profiling: unknown profile %q", n)
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if err := makePrivateDir(w.Dir); err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	defer enableSampling(names)()
	recs := map[string]*recorder{}
	for _, n := range names {
		if n != CPU && n != Trace {
			continue
		}
		r := newRecorder(n, w.tempPath(n))
		if err := r.begin(); err != nil {
			w.Log.Warn("profiling: not recording", "profile", n, "error", err)
			continue
		}
		defer r.discard()
		recs[n] = r
	}
	w.Log.Info("writing profiles", "dir", w.Dir, "interval", w.Interval, "names", names)
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			w.writeAll(now, names, recs)
		}
	}
}

// writeAll writes one file per name, stamped with now.
func (w *Writer) writeAll(now time.Time, names []string, recs map[string]*recorder) {
	stamp := now.Format(stampLayout)
	for _, n := range names {
		final := filepath.Join(w.Dir, stamp+"_"+w.Tag+"_"+n+".pb.gz")
		var err error
		switch r, recording := recs[n]; {
		case recording:
			err = r.cut(final)
		case n == CPU || n == Trace:
			continue // could not start; warned at start
		default:
			err = w.snapshot(n, final)
		}
		if err != nil {
			w.Log.Warn("profiling: write profile", "profile", n, "error", err)
		}
	}
}

// snapshot writes the runtime profile name to final.
func (w *Writer) snapshot(name, final string) error {
	p := pprof.Lookup(name)
	if p == nil {
		return fmt.Errorf("no runtime profile %q", name)
	}
	if name == Heap {
		runtime.GC() // the heap profile is as of the last collection: make it now
	}
	return atomicfile.Write(final, 0o600, func(f io.Writer) error { return p.WriteTo(f, 0) })
}

// tempPath is the hidden file a cpu or trace recording is written to
// before its rename.
func (w *Writer) tempPath(name string) string {
	return filepath.Join(w.Dir, "."+w.Tag+"_current_"+name)
}
