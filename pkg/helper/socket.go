package helper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// socketRetry is how often socketWatch retries watching a directory that
// does not exist yet.
const socketRetry = time.Second

// socketWatch watches the Workload API socket's directory and reports on
// changed each time the socket file appears with a new inode: the agent
// started or restarted. For tcp:// addresses it does nothing.
type socketWatch struct {
	path    string // "" for non-unix addresses
	log     *slog.Logger
	changed chan struct{}
	// wakeExisting reports a socket that already exists when the watch
	// starts, as if it had just appeared.
	wakeExisting bool
}

func newSocketWatch(addr string, log *slog.Logger) *socketWatch {
	return &socketWatch{path: socketPath(addr), log: log, changed: make(chan struct{}, 1)}
}

// socketPath returns the file path of a unix:// address, or "".
func socketPath(addr string) string {
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
	return filepath.Clean(u.Path)
}

// inode returns the socket's inode, or 0 when it does not exist.
func inode(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// Run watches until ctx ends and returns nil then.
func (s *socketWatch) Run(ctx context.Context) error {
	if s.path == "" {
		<-ctx.Done()
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch socket %q: %w", s.path, err)
	}
	defer w.Close()
	dir := filepath.Dir(s.path)
	last := inode(s.path)
	if s.wakeExisting {
		last = 0
	}
	watching := false
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-retry.C:
			if err := w.Add(dir); err != nil {
				if !errors.Is(err, os.ErrNotExist) {
					s.log.Warn("cannot watch the Workload API socket directory", "dir", dir, "error", err)
				}
				retry.Reset(socketRetry)
				continue
			}
			watching = true
			// The socket may have appeared before the watch started.
			if ino := inode(s.path); ino != 0 && ino != last {
				last = ino
				s.signal()
			}
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if filepath.Clean(ev.Name) == dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				watching = false
				retry.Reset(socketRetry)
				continue
			}
			if filepath.Clean(ev.Name) != s.path {
				continue
			}
			if ev.Has(fsnotify.Remove | fsnotify.Rename) {
				// A recreated socket often gets the old inode number back:
				// remember the removal itself, not just the inode.
				last = 0
				continue
			}
			ino := inode(s.path)
			if ino == 0 {
				last = 0
				continue
			}
			if ino != last {
				last = ino
				s.log.Info("Workload API socket (re)created; reconnecting", "socket", s.path)
				waitAccepting(ctx, s.path)
				s.signal()
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			s.log.Warn("watching the Workload API socket failed", "socket", s.path, "error", err, "watching", watching)
		}
	}
}

func (s *socketWatch) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// lazySocketWatch is one-shot mode's socket watch: it starts on the first
// call of start, i.e. after a failed attempt, and reports a socket that
// exists by then (it may have appeared since that attempt).
type lazySocketWatch struct {
	addr string
	log  *slog.Logger
	ctx  context.Context // bounds the watch

	w      *socketWatch
	cancel context.CancelFunc
	done   chan struct{}
}

// start starts the watch unless it runs and returns its channel.
func (l *lazySocketWatch) start() <-chan struct{} {
	if l.w == nil {
		l.w = newSocketWatch(l.addr, l.log)
		l.w.wakeExisting = true
		var ctx context.Context
		ctx, l.cancel = context.WithCancel(l.ctx)
		l.done = make(chan struct{})
		go func() {
			defer close(l.done)
			_ = l.w.Run(ctx)
		}()
	}
	return l.w.changed
}

// stop ends the watch, if started, and waits for it.
func (l *lazySocketWatch) stop() {
	if l.w != nil {
		l.cancel()
		<-l.done
	}
}

// acceptWait bounds how long a new socket is given to start accepting.
const acceptWait = 500 * time.Millisecond

// waitAccepting waits (briefly) until the socket at path accepts
// connections: a server creates the socket file a moment before it
// listens, and a reconnect refused in that moment would cost a whole
// backoff step.
func waitAccepting(ctx context.Context, path string) {
	deadline := time.Now().Add(acceptWait)
	for {
		conn, err := net.DialTimeout("unix", path, acceptWait)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
