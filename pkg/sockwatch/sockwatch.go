// Package sockwatch tells a Workload API client when to reconnect: it
// watches the directory of a Unix socket and signals each time a new socket
// file appears at the path and accepts connections, that is when the
// server (the agent) started or restarted.
//
// Without it a client that lost its server waits out its reconnect backoff,
// which may be many seconds, although the new server is ready at once.
// The directory is watched, not the socket: a watch on the socket itself
// would die with the socket. For addresses that are not unix:// (tcp://),
// the watcher never signals and the client's own backoff has to do.
package sockwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultRetryInterval is how often a watcher retries, by default, to watch
// a directory that does not exist (yet, or any more).
const DefaultRetryInterval = time.Second

// Watcher watches one socket path. Create it with New, start it with Run
// and receive from Changed.
type Watcher struct {
	path     string // "" for non-unix addresses
	log      *slog.Logger
	retry    time.Duration
	existing bool
	initial  fileID // the socket New found
	changed  chan struct{}
}

// Option configures a Watcher.
type Option interface{ apply(*Watcher) }

type optionFunc func(*Watcher)

func (f optionFunc) apply(w *Watcher) { f(w) }

// WithLogger sets the logger for changes and watch failures; the default
// discards them.
func WithLogger(log *slog.Logger) Option {
	return optionFunc(func(w *Watcher) {
		if log != nil {
			w.log = log
		}
	})
}

// WithRetryInterval sets how often the watcher retries to watch a
// directory that does not exist; d <= 0 keeps DefaultRetryInterval.
func WithRetryInterval(d time.Duration) Option {
	return optionFunc(func(w *Watcher) {
		if d > 0 {
			w.retry = d
		}
	})
}

// ReportExisting makes Run signal a socket that already exists when it
// starts, as if it had just appeared. Use it when the watch starts after a
// failed attempt: the socket may have appeared since.
func ReportExisting() Option {
	return optionFunc(func(w *Watcher) { w.existing = true })
}

// New returns a watcher of the socket of addr, a Workload API address such
// as "unix:///run/spire/agent.sock" or "unix:/path". A socket that exists
// now is not a change, unless ReportExisting is given. For any other
// address it returns a watcher that never signals.
func New(addr string, opts ...Option) *Watcher {
	w := &Watcher{
		path:    Path(addr),
		log:     slog.New(slog.DiscardHandler),
		retry:   DefaultRetryInterval,
		changed: make(chan struct{}, 1),
	}
	for _, o := range opts {
		o.apply(w)
	}
	if w.path != "" && !w.existing {
		// Taken here, not in Run, so that a socket recreated between New
		// and Run counts as a change.
		w.initial = identify(w.path)
	}
	return w
}

// Path returns the file path of a unix: address, or "" for any other
// address.
func Path(addr string) string {
	if !strings.HasPrefix(addr, "unix:") {
		return ""
	}
	u, err := url.Parse(addr)
	if err != nil {
		return ""
	}
	if u.Opaque != "" {
		return filepath.Clean(u.Opaque)
	}
	if u.Path == "" {
		return ""
	}
	return filepath.Clean(u.Path)
}

// Changed returns the channel that receives a value each time a new socket
// accepts connections (or did not within half a second). It has room for
// one value, so that a burst of changes the receiver has not yet seen
// collapses into one.
func (w *Watcher) Changed() <-chan struct{} { return w.changed }

// Run watches until ctx ends and returns nil then; it returns an error only
// when it cannot watch at all. Call it once.
func (w *Watcher) Run(ctx context.Context) error {
	if w.path == "" {
		<-ctx.Done()
		return nil
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("sockwatch: watch %q: %w", w.path, err)
	}
	defer fw.Close()
	dir := filepath.Dir(w.path)
	last := w.initial
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-retry.C:
			if err := fw.Add(dir); err != nil {
				if !errors.Is(err, os.ErrNotExist) {
					w.log.Warn("cannot watch the socket directory; retrying", "dir", dir, "error", err, "retry_in", w.retry)
				}
				retry.Reset(w.retry)
				continue
			}
			// The socket may have appeared before the watch started.
			last = w.check(ctx, last)
			w.log.Debug("watching the socket directory", "dir", dir)
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			name := filepath.Clean(ev.Name)
			if name == dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				// The socket went with its directory; the watch did too.
				_ = fw.Remove(dir)
				last = fileID{}
				retry.Reset(0)
				continue
			}
			if name != w.path {
				continue
			}
			if ev.Has(fsnotify.Remove | fsnotify.Rename) {
				// A recreated socket often gets the old inode number back:
				// remember the removal itself, not just the identity.
				last = fileID{}
			}
			last = w.check(ctx, last)
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			w.log.Warn("watching the socket failed", "socket", w.path, "error", err)
		}
	}
}

// check signals when the socket at the path is not the one last seen and
// returns the identity of the one there now.
func (w *Watcher) check(ctx context.Context, last fileID) fileID {
	id := identify(w.path)
	if !id.exists || id == last {
		return id
	}
	w.log.Info("socket (re)created; reconnecting", "socket", w.path)
	waitAccepting(ctx, w.path)
	w.signal()
	return id
}

// signal reports a change; a pending report absorbs further ones.
func (w *Watcher) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}
