package reloader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// loop is the state of one Run. Only Run's goroutine touches it; the only
// other goroutines are the child waiters, which hand their result over on
// exited.
type loop struct {
	r        *Reloader
	cfg      *Config
	notified bool // at least one Notify was handled

	child   *child         // the running child, nil when none
	exited  chan exitEvent // receives the running child's exit
	waiters sync.WaitGroup // child waiter goroutines
	restart timer          // pending automatic restart
	backoff time.Duration  // delay before the next automatic restart

	watcher *fsnotify.Watcher
	retry   timer // retry watching the directory
	settle  timer // read the pid file once it stops changing
	lastPID int   // last pid from the pid file that was signalled

	lastRefusal string // pidFile.key of the last logged refusal
}

// timer is a resettable timer whose channel is nil while it is stopped, so
// that it can sit in a select unconditionally.
type timer struct {
	t *time.Timer
	C <-chan time.Time
}

func (t *timer) reset(d time.Duration) {
	if t.t == nil {
		t.t = time.NewTimer(d)
	} else {
		t.t.Reset(d)
	}
	t.C = t.t.C
}

func (t *timer) stop() {
	if t.t != nil {
		t.t.Stop()
	}
	t.C = nil
}

// Run starts and signals the application on each Notify until ctx ends.
// Then it sends SIGTERM to the child, waits up to StopGrace for it to exit,
// sends SIGKILL to its process group if it did not, and returns nil once the
// child is reaped. Run may be called only once. It fails only when called
// again or when it cannot create the pid file watch (inotify limits).
func (r *Reloader) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("reloader: Run called more than once")
	}
	l := &loop{
		r:       r,
		cfg:     &r.cfg,
		exited:  make(chan exitEvent, 1),
		backoff: r.cfg.RestartBackoff,
	}
	if r.cfg.PIDFile != "" {
		if _, err := os.Stat(procRoot); err != nil {
			return fmt.Errorf("reloader: pid file %q needs %s: %w", r.cfg.PIDFile, procRoot, err)
		}
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return fmt.Errorf("reloader: watch pid file %q: %w", r.cfg.PIDFile, err)
		}
		l.watcher = w
		defer w.Close()
		l.watchDir()
	}
	defer l.waiters.Wait()

	var (
		events <-chan fsnotify.Event
		errs   <-chan error
	)
	if l.watcher != nil {
		events, errs = l.watcher.Events, l.watcher.Errors
	}
	for {
		select {
		case <-ctx.Done():
			l.restart.stop()
			l.retry.stop()
			l.settle.stop()
			l.stopChild()
			return nil
		case <-r.notify:
			l.onNotify()
		case ev := <-l.exited:
			l.onExit(ev)
		case <-l.restart.C:
			l.restart.C = nil
			l.startChild()
		case <-l.retry.C:
			l.retry.C = nil
			l.watchDir()
		case <-l.settle.C:
			l.settle.C = nil
			l.pidFileChanged()
		case ev := <-events:
			l.onWatchEvent(ev)
		case err := <-errs:
			l.cfg.Log.Warn("watching pid file failed", "pid_file", l.cfg.PIDFile, "error", err)
		}
	}
}

// onNotify handles one (possibly collapsed) Notify.
func (l *loop) onNotify() {
	l.notified = true
	if l.r.path != "" {
		l.notifyChild()
	}
	if l.cfg.PIDFile != "" {
		l.notifyPIDFile()
	}
}
