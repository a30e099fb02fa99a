// Package reloader keeps a legacy application informed that its certificate
// files changed: it starts the configured command after the first successful
// write, sends it the renew signal after every later write, and signals the
// process named by a pid file, watching that file so a late or restarted
// application is signalled at its new pid.
//
// It improves on spiffe-helper's sidecar in these ways: the child is started
// and signalled from one goroutine (no double start on two quick updates),
// it is reaped and its exit is logged with its code or signal, a restart
// policy is available, the child is stopped with SIGTERM and then SIGKILL
// when the helper stops, a pid file that is absent, partly written, stale or
// holds a non-positive number never leads to a wrong kill(2), and the pid
// file is watched instead of being read only at update time.
//
// Whoever can write the pid file chooses whom the helper, often root,
// signals. So the process it names is signalled only when the file is
// writable by its owner alone (and a symlink to it is root's or the
// owner's), the pid is not 1 or the helper's, and the
// process is the child or its descendant, or runs in the helper's pid
// namespace as the pid file's owner (its real or saved uid, the rule by
// which kill(2) would let the owner signal it); Config.PIDFileAnyProcess
// drops the last condition. Each refusal is logged as a warning once per
// pid and file state. The process is opened as a procid.Process before the
// checks and signalled through it (a pidfd; without one, kill(2) after its
// start time is checked again), so a pid reused meanwhile is not signalled.
package reloader

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultSignal            = syscall.SIGHUP
	DefaultStopGrace         = 10 * time.Second
	DefaultRestartBackoff    = time.Second
	DefaultMaxRestartBackoff = 30 * time.Second
	DefaultPIDFileSettle     = 200 * time.Millisecond
	DefaultPIDFileRetry      = time.Second
)

// Config configures a Reloader. Every field is optional; with neither Cmd
// nor PIDFile set the Reloader does nothing but wait for cancellation.
type Config struct {
	// Cmd is the program started at the first Notify (spiffe-helper's cmd).
	// A name without a slash is looked up in PATH by New.
	Cmd string
	// Args are the program's arguments, without the program name.
	Args []string
	// Env is the child's environment; nil means the helper's own.
	Env []string
	// PIDFile names a file whose first line is the pid of a process to
	// signal after every write (spiffe-helper's pid_file_name). Its
	// directory is watched, so a PIDFile that is itself a symlink is read
	// fresh on every Notify but changes of its target are not seen.
	PIDFile string
	// PIDFileAnyProcess lets the pid file name a process that is neither
	// the child (or its descendant) nor, in the helper's pid namespace,
	// running as the pid file's owner; see signalPIDFile for the checks
	// that remain.
	PIDFileAnyProcess bool
	// Signal is sent to the child and to the pid file's process after every
	// write after the first (spiffe-helper's renew_signal). Default SIGHUP.
	Signal syscall.Signal
	// Restart says whether the child is restarted when it exits. Default
	// RestartNever.
	Restart RestartPolicy
	// RestartBackoff is the first delay before an automatic restart; it
	// doubles after each quick exit up to MaxRestartBackoff.
	RestartBackoff, MaxRestartBackoff time.Duration
	// StopGrace is how long the child has to exit after SIGTERM when Run's
	// context ends, before its process group gets SIGKILL. Default 10s.
	StopGrace time.Duration
	// PIDFileSettle is how long the pid file must stay unchanged after a
	// change before it is read (applications such as PostgreSQL write it in
	// several steps). Default 200ms.
	PIDFileSettle time.Duration
	// PIDFileRetry is how often Run retries watching the pid file's
	// directory while that directory does not exist. Default 1s.
	PIDFileRetry time.Duration
	// Stdout and Stderr receive the child's output. Default os.Stdout and
	// os.Stderr. The child's stdin is /dev/null.
	Stdout, Stderr io.Writer
	// Log receives the Reloader's logs. Default slog.Default().
	Log *slog.Logger
	// The Reloader's counts (signals sent, child starts and exits) are
	// read with Counts.
}

// Reloader starts and signals the application. Create it with New, run it
// with Run and call Notify after every successful write of the files.
type Reloader struct {
	cfg     Config
	path    string // Cmd resolved by exec.LookPath
	notify  chan struct{}
	running atomic.Bool
	metrics *metrics
}

// New checks cfg, fills defaults and returns a Reloader that does nothing
// until Run is called.
func New(cfg Config) (*Reloader, error) {
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("reloader: %w", err)
	}
	r := &Reloader{cfg: cfg, notify: make(chan struct{}, 1)}
	if cfg.Cmd != "" {
		p, err := exec.LookPath(cfg.Cmd)
		if err != nil {
			return nil, fmt.Errorf("reloader: cmd %q: %w", cfg.Cmd, err)
		}
		r.path = p
	}
	r.metrics = newMetrics()
	return r, nil
}

func (c *Config) fill() error {
	var err error
	if c.Restart, err = ParseRestartPolicy(string(c.Restart)); err != nil {
		return err
	}
	if c.Signal == 0 {
		c.Signal = DefaultSignal
	}
	if c.Signal < 0 || c.Signal > 64 || c.Signal == syscall.SIGKILL || c.Signal == syscall.SIGSTOP {
		return fmt.Errorf("signal %d cannot be used as the renew signal", int(c.Signal))
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"restart backoff", &c.RestartBackoff, DefaultRestartBackoff},
		{"max restart backoff", &c.MaxRestartBackoff, DefaultMaxRestartBackoff},
		{"stop grace", &c.StopGrace, DefaultStopGrace},
		{"pid file settle", &c.PIDFileSettle, DefaultPIDFileSettle},
		{"pid file retry", &c.PIDFileRetry, DefaultPIDFileRetry},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return fmt.Errorf("%s %s must not be negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.MaxRestartBackoff < c.RestartBackoff {
		c.MaxRestartBackoff = c.RestartBackoff
	}
	if c.PIDFile != "" {
		abs, err := filepath.Abs(c.PIDFile)
		if err != nil {
			return fmt.Errorf("pid file %q: %w", c.PIDFile, err)
		}
		c.PIDFile = abs
	}
	if c.Cmd == "" && len(c.Args) > 0 {
		return errors.New("args given without cmd")
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return nil
}

// Notify tells the Reloader that a new set of files was written. It never
// blocks and is safe from any goroutine. Notifications that arrive while an
// earlier one is pending collapse into it, but every Notify is followed by at
// least one start or signal of the application. The first Notify starts Cmd;
// later ones signal it. Every Notify signals the pid file's process.
// Notify before Run is remembered and handled when Run starts.
func (r *Reloader) Notify() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}
