package sdsbridge

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

// socketWatch watches the Workload API socket's directory (a watch on the
// socket itself would die with the socket) and reports on changed each time
// the socket file appears with a new inode: the agent started or
// restarted. For tcp:// addresses it does nothing.
type socketWatch struct {
	path    string // "" for non-unix addresses
	log     *slog.Logger
	changed chan struct{}
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

// fileID tells one socket file from another created at the same path.
// Inode numbers alone are not enough: a socket removed and created again
// often gets the same number back, but not the same change time.
type fileID struct {
	ino   uint64
	ctime syscall.Timespec
}

// identify returns the socket's identity, or the zero fileID when it does
// not exist.
func identify(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{ino: st.Ino, ctime: st.Ctim}
	}
	return fileID{}
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
	last := identify(s.path)
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
			// The socket may have appeared before the watch started.
			if id := identify(s.path); id != (fileID{}) && id != last {
				last = id
				s.waitAccepting(ctx)
				s.signal()
			}
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if filepath.Clean(ev.Name) == dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				retry.Reset(socketRetry)
				continue
			}
			if filepath.Clean(ev.Name) != s.path {
				continue
			}
			if ev.Has(fsnotify.Remove | fsnotify.Rename) {
				last = fileID{}
			}
			id := identify(s.path)
			if id == (fileID{}) {
				last = fileID{}
				continue
			}
			if id != last {
				last = id
				s.log.Info("Workload API socket (re)created; reconnecting", "socket", s.path)
				s.waitAccepting(ctx)
				s.signal()
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			s.log.Warn("watching the Workload API socket failed", "socket", s.path, "error", err)
		}
	}
}

// Bounds of waitAccepting.
const (
	acceptPoll  = 10 * time.Millisecond
	acceptTries = 50
)

// waitAccepting waits, for half a second at most, until the socket
// accepts connections. A server creates the file (bind) a moment before it
// listens; a reconnect in between would be refused and wait a whole backoff
// step.
func (s *socketWatch) waitAccepting(ctx context.Context) {
	d := net.Dialer{Timeout: acceptPoll}
	for range acceptTries {
		c, err := d.DialContext(ctx, "unix", s.path)
		if err == nil {
			_ = c.Close()
			return
		}
		t := time.NewTimer(acceptPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// signal reports a change; a pending report absorbs further ones.
func (s *socketWatch) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}
