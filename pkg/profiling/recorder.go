package profiling

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// recorder records a CPU profile or an execution trace into a temporary
// file and cuts it into a finished file at each tick. Both are
// process-wide: while one records, the pprof endpoint's /profile (or
// /trace) and SVIDKIT_CPUPROFILE cannot, and the other way round.
type recorder struct {
	name  string
	tmp   string
	start func(io.Writer) error
	stop  func()
	f     *os.File // nil while not recording
}

func newRecorder(name, tmp string) *recorder {
	r := &recorder{name: name, tmp: tmp, start: pprof.StartCPUProfile, stop: pprof.StopCPUProfile}
	if name == Trace {
		r.start, r.stop = trace.Start, trace.Stop
	}
	return r
}

// begin starts recording into the temporary file.
func (r *recorder) begin() error {
	f, err := createPrivate(r.tmp)
	if err != nil {
		return err
	}
	if err := r.start(f); err != nil {
		f.Close()
		os.Remove(r.tmp)
		return fmt.Errorf("start %s: %w", r.name, err)
	}
	r.f = f
	return nil
}

// cut ends the recording under way, renames it to final and starts the
// next one. Without a recording under way (a restart failed at the last
// tick) it only starts one.
func (r *recorder) cut(final string) error {
	var err error
	if r.f != nil {
		r.stop()
		err = r.f.Close()
		r.f = nil
		if err == nil {
			err = os.Rename(r.tmp, final)
		}
	}
	return errors.Join(err, r.begin())
}

// discard ends the recording under way and removes its file.
func (r *recorder) discard() {
	if r.f == nil {
		return
	}
	r.stop()
	r.f.Close()
	os.Remove(r.tmp)
	r.f = nil
}
