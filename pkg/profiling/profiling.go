// Package profiling gives the svidkit server and agent SPIRE's profiling
// settings (profiling_enabled, profiling_port, profiling_freq,
// profiling_names): Go's net/http/pprof endpoints on a loopback port, and
// profiles written to files at a fixed interval.
//
// It differs from SPIRE where SPIRE is unsafe: the endpoint binds
// 127.0.0.1 only (SPIRE: "localhost") on a mux of its own (SPIRE serves
// http.DefaultServeMux), and profiles go to a 0700 directory under the
// daemon's data_dir with mode 0600 (SPIRE: ".profiles" in the working
// directory, with the umask's modes). File names are SPIRE's:
// <yyyy-mm-dd_hhmmss>_<tag>_<name>.pb.gz.
package profiling

import (
	"log/slog"
	"runtime"
	"slices"
	"time"

	"github.com/svidkit/svidkit/pkg/taskrun"
)

// Profile names accepted in profiling_names, SPIRE's list. CPU and trace
// record from one tick to the next; the others are snapshots.
const (
	Goroutine    = "goroutine"
	ThreadCreate = "threadcreate"
	Heap         = "heap"
	Block        = "block"
	Mutex        = "mutex"
	Trace        = "trace"
	CPU          = "cpu"
)

// Names returns every profile name profiling_names accepts.
func Names() []string {
	return []string{Goroutine, ThreadCreate, Heap, Block, Mutex, Trace, CPU}
}

// Known reports whether name is a profile name profiling_names accepts.
func Known(name string) bool { return slices.Contains(Names(), name) }

// Config is a daemon's profiling settings.
type Config struct {
	// Enabled turns profiling on (profiling_enabled); without it nothing
	// else here has any effect, as in SPIRE.
	Enabled bool
	// Port is the pprof endpoint's port on 127.0.0.1 (profiling_port);
	// 0 serves no endpoint.
	Port int
	// Interval is how often profiles are written (profiling_freq);
	// 0 writes none.
	Interval time.Duration
	// Names are the profiles written at each interval (profiling_names);
	// every one must be Known.
	Names []string
	// Dir is where profiles are written; it is created 0700.
	Dir string
	// Tag names the daemon in file names ("server" or "agent").
	Tag string
	// Log receives the start and any failure to write a profile.
	Log *slog.Logger
}

// Tasks returns the daemon tasks cfg asks for: the endpoint when Port is
// set, the writer when Interval is set; none when profiling is disabled.
func Tasks(cfg Config) []taskrun.Task {
	if !cfg.Enabled {
		return nil
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if runtime.MemProfileRate == 0 {
		cfg.Log.Warn("profiling: memory profiles are off (runtime.MemProfileRate is 0): heap profiles will be empty")
	}
	var tasks []taskrun.Task
	if cfg.Port > 0 {
		tasks = append(tasks, taskrun.Task{Name: "profiling endpoint", Run: NewEndpoint(cfg.Port, cfg.Log).Run})
	}
	if cfg.Interval > 0 {
		w := &Writer{Dir: cfg.Dir, Tag: cfg.Tag, Interval: cfg.Interval, Names: cfg.Names, Log: cfg.Log}
		tasks = append(tasks, taskrun.Task{Name: "profile writer", Run: w.Run})
	}
	return tasks
}
