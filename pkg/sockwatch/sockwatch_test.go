package sockwatch_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/sockwatch"
)

// signalDeadline bounds the wait for a change that must be reported.
const signalDeadline = 5 * time.Second

// env is one test's socket directory and path. The directory is under the
// system temp dir, not t.TempDir, whose long names can exceed the limit of
// a Unix socket path.
type env struct {
	dir, path string
}

func newEnv(t *testing.T) env {
	t.Helper()
	dir, err := os.MkdirTemp("", "sockwatch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sub := filepath.Join(dir, "run")
	return env{dir: sub, path: filepath.Join(sub, "agent.sock")}
}

func (e env) addr() string { return "unix://" + e.path }

func (e env) mkdir(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// listen serves a socket at the path until the test ends. Closing the
// listener removes the file.
func (e env) listen(t *testing.T) *net.UnixListener {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: e.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// bind creates the socket file without listening: a server between bind
// and listen. It returns a function that starts listening.
func (e env) bind(t *testing.T) (listen func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: e.path}); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := syscall.Listen(fd, 1); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs w until the test ends and checks that Run returns nil on
// cancel.
func start(t *testing.T, w *sockwatch.Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v, want nil on cancel", err)
			}
		case <-time.After(signalDeadline):
			t.Error("Run did not return after cancel")
		}
	})
}

func wantSignal(t *testing.T, w *sockwatch.Watcher, what string) {
	t.Helper()
	select {
	case <-w.Changed():
	case <-time.After(signalDeadline):
		t.Fatalf("%s: no signal within %v", what, signalDeadline)
	}
}

// reports records the changes a watcher reports: it logs one record per
// change, before it signals. Each is recorded as the inode of the socket
// found at the path then (0: none).
type reports struct {
	path   string
	mu     sync.Mutex
	inodes []uint64
	// watching is set once the directory is watched and the socket found
	// there checked.
	watching bool
	notify   chan struct{} // receives after each record

}

func (r *reports) Enabled(context.Context, slog.Level) bool { return true }
func (r *reports) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *reports) WithGroup(string) slog.Handler            { return r }
func (r *reports) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == "watching the socket directory" {
		r.mu.Lock()
		r.watching = true
		r.mu.Unlock()
		select {
		case r.notify <- struct{}{}:
		default:
		}
		return nil
	}
	if rec.Message != "socket (re)created; reconnecting" {
		return nil
	}
	ino := inode(r.path)
	r.mu.Lock()
	r.inodes = append(r.inodes, ino)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

func (r *reports) all() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.inodes)
}

// waitWatching waits until the watcher watches the socket directory and
// has checked the socket it found there: a change made after that reaches
// it as an event.
func waitWatching(t *testing.T, r *reports) {
	t.Helper()
	deadline := time.After(signalDeadline)
	for {
		r.mu.Lock()
		ok := r.watching
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("the directory is not watched within %v", signalDeadline)
		}
	}
}

// inode returns the inode of the file at path, or 0.
func inode(path string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return 0
	}
	return st.Ino
}

// waitReport waits until the watcher has reported a change (logged, before
// waiting for the socket to accept and signalling) satisfying ok.
func waitReport(t *testing.T, r *reports, what string, ok func(inodes []uint64) bool) {
	t.Helper()
	deadline := time.After(signalDeadline)
	for !ok(r.all()) {
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("%s: not reported within %v (reports: %v)", what, signalDeadline, r.all())
		}
	}
}

// wantOnly waits for the report of the socket with inode last, a change
// that must be reported and that comes after everything the test did
// before, then checks that the reports are exactly want (ending in last):
// a report that should not have happened was made by then.
func wantOnly(t *testing.T, r *reports, what string, want ...uint64) {
	t.Helper()
	last := want[len(want)-1]
	waitReport(t, r, what, func(inodes []uint64) bool { return slices.Contains(inodes, last) })
	if got := r.all(); !slices.Equal(got, want) {
		t.Fatalf("%s: reported sockets %v, want %v", what, got, want)
	}
}

// recreate replaces the socket with a new one (new inode: the old listener
// stays open) that the watcher must report.
func recreate(t *testing.T, e env) {
	t.Helper()
	if err := os.Remove(e.path); err != nil {
		t.Fatal(err)
	}
	e.listen(t)
}

// dialable reports whether the socket accepts connections.
func dialable(path string) bool {
	c, err := net.Dial("unix", path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestWatcher(t *testing.T) {
	fast := sockwatch.WithRetryInterval(10 * time.Millisecond)
	tests := []struct {
		name string
		// before prepares the directory before New.
		before func(t *testing.T, e env)
		opts   []sockwatch.Option
		// run acts and checks while the watcher runs; r counts the
		// changes w reported.
		run func(t *testing.T, e env, w *sockwatch.Watcher, r *reports)
	}{
		{
			name:   "socket created",
			before: func(t *testing.T, e env) { e.mkdir(t) },
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				e.listen(t)
				wantSignal(t, w, "new socket")
			},
		},
		{
			name: "existing socket not reported by default",
			before: func(t *testing.T, e env) {
				e.mkdir(t)
				e.listen(t).SetUnlinkOnClose(false)
			},
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				waitWatching(t, r)
				recreate(t, e)
				wantSignal(t, w, "recreated socket")
				wantOnly(t, r, "existing socket", inode(e.path))
			},
		},
		{
			name: "existing socket reported when asked",
			before: func(t *testing.T, e env) {
				e.mkdir(t)
				e.listen(t).SetUnlinkOnClose(false)
			},
			opts: []sockwatch.Option{sockwatch.ReportExisting()},
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				existing := inode(e.path)
				wantSignal(t, w, "existing socket")
				waitWatching(t, r)
				recreate(t, e)
				wantSignal(t, w, "recreated socket")
				wantOnly(t, r, "existing socket, then no change until recreated", existing, inode(e.path))
			},
		},
		{
			name: "socket recreated with a new inode",
			before: func(t *testing.T, e env) {
				e.mkdir(t)
				e.listen(t).SetUnlinkOnClose(false)
			},
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				// The old listener stays open, so its inode is not reused.
				if err := os.Remove(e.path); err != nil {
					t.Fatal(err)
				}
				e.listen(t)
				wantSignal(t, w, "recreated socket")
			},
		},
		{
			// Started with ReportExisting, the first signal proves the
			// directory watched; the socket then comes back within the
			// same change-time tick and usually with the same inode:
			// only the removal tells the sockets apart.
			name: "socket recreated, inode reused",
			before: func(t *testing.T, e env) {
				e.mkdir(t)
			},
			opts: []sockwatch.Option{sockwatch.ReportExisting()},
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				l := e.listen(t)
				wantSignal(t, w, "first socket")
				l.Close()
				e.listen(t)
				wantSignal(t, w, "recreated socket")
			},
		},
		{
			name: "directory created late",
			opts: []sockwatch.Option{fast},
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				e.mkdir(t)
				e.listen(t)
				wantSignal(t, w, "socket in new directory")
			},
		},
		{
			name:   "directory removed and recreated",
			before: func(t *testing.T, e env) { e.mkdir(t) },
			opts:   []sockwatch.Option{fast, sockwatch.ReportExisting()},
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				l := e.listen(t)
				wantSignal(t, w, "first socket")
				l.Close()
				if err := os.RemoveAll(e.dir); err != nil {
					t.Fatal(err)
				}
				e.mkdir(t)
				e.listen(t)
				wantSignal(t, w, "socket in recreated directory")
			},
		},
		{
			name:   "directory renamed and recreated",
			before: func(t *testing.T, e env) { e.mkdir(t) },
			opts:   []sockwatch.Option{fast, sockwatch.ReportExisting()},
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				l := e.listen(t)
				l.SetUnlinkOnClose(false)
				wantSignal(t, w, "first socket")
				if err := os.Rename(e.dir, e.dir+".old"); err != nil {
					t.Fatal(err)
				}
				e.mkdir(t)
				e.listen(t)
				wantSignal(t, w, "socket in recreated directory")
			},
		},
		{
			name:   "signal waits until the socket accepts",
			before: func(t *testing.T, e env) { e.mkdir(t) },
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				listen := e.bind(t)
				// The watcher has seen the bound socket; it must now wait
				// for it to accept rather than signal.
				waitReport(t, r, "bound socket", func(inodes []uint64) bool { return len(inodes) > 0 })
				select {
				case <-w.Changed():
					t.Fatal("bound, not listening: signalled before the socket accepts")
				default:
				}
				listen()
				wantSignal(t, w, "listening socket")
				if !dialable(e.path) {
					t.Error("signalled socket does not accept connections")
				}
			},
		},
		{
			name:   "socket that never accepts is reported anyway",
			before: func(t *testing.T, e env) { e.mkdir(t) },
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				e.bind(t)
				wantSignal(t, w, "bound socket")
			},
		},
		{
			name:   "other files ignored",
			before: func(t *testing.T, e env) { e.mkdir(t) },
			run: func(t *testing.T, e env, w *sockwatch.Watcher, r *reports) {
				waitWatching(t, r)
				if err := os.WriteFile(filepath.Join(e.dir, "other"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
				// The socket is created after the other file, so its
				// signal comes after any report of the other file.
				e.listen(t)
				wantSignal(t, w, "socket after other file")
				wantOnly(t, r, "other file", inode(e.path))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.before != nil {
				tc.before(t, e)
			}
			r := &reports{path: e.path, notify: make(chan struct{}, 1)}
			w := sockwatch.New(e.addr(), append(tc.opts, sockwatch.WithLogger(slog.New(r)))...)
			if cap(w.Changed()) != 1 {
				t.Fatalf("cap(Changed()) = %d, want 1 so that bursts collapse", cap(w.Changed()))
			}
			start(t, w)
			tc.run(t, e, w, r)
		})
	}
}

func TestNonUnixNeverFires(t *testing.T) {
	for _, addr := range []string{"tcp://127.0.0.1:8081", "", "unix:"} {
		t.Run(addr, func(t *testing.T) {
			w := sockwatch.New(addr, sockwatch.ReportExisting())
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v, want nil", err)
				}
			case <-time.After(signalDeadline):
				t.Fatal("Run did not return after cancel")
			}
			// Run has returned: whatever it was going to report is sent.
			select {
			case <-w.Changed():
				t.Fatal("non-unix address: unexpected signal")
			default:
			}
		})
	}
}

func TestPath(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"unix:///run/spire/agent.sock", "/run/spire/agent.sock"},
		{"unix:/run/spire/agent.sock", "/run/spire/agent.sock"},
		{"unix:///run/spire/../spire/agent.sock", "/run/spire/agent.sock"},
		{"tcp://127.0.0.1:8081", ""},
		{"/run/spire/agent.sock", ""},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			if got := sockwatch.Path(tc.addr); got != tc.want {
				t.Errorf("Path(%q) = %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
}
