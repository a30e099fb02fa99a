package sockwatch_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/sockwatch"
)

const (
	// signalDeadline bounds the wait for a change that must be reported.
	signalDeadline = 5 * time.Second
	// quietWindow is how long a change that must not be reported is given
	// to show up anyway; it is short of the half second the watcher gives a
	// socket to accept, so that a bound but not listening socket stays
	// unreported through it.
	quietWindow = 200 * time.Millisecond
)

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

func wantQuiet(t *testing.T, w *sockwatch.Watcher, what string) {
	t.Helper()
	select {
	case <-w.Changed():
		t.Fatalf("%s: unexpected signal", what)
	case <-time.After(quietWindow):
	}
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
		// run acts and checks while the watcher runs.
		run func(t *testing.T, e env, w *sockwatch.Watcher)
	}{
		{
			name:   "socket created",
			before: func(t *testing.T, e env) { e.mkdir(t) },
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
				e.listen(t)
				wantSignal(t, w, "new socket")
			},
		},
		{
			name: "existing socket not reported by default",
			before: func(t *testing.T, e env) {
				e.mkdir(t)
				e.listen(t)
			},
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
				wantQuiet(t, w, "existing socket")
			},
		},
		{
			name: "existing socket reported when asked",
			before: func(t *testing.T, e env) {
				e.mkdir(t)
				e.listen(t)
			},
			opts: []sockwatch.Option{sockwatch.ReportExisting()},
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
				wantSignal(t, w, "existing socket")
				wantQuiet(t, w, "no further change")
			},
		},
		{
			name: "socket recreated with a new inode",
			before: func(t *testing.T, e env) {
				e.mkdir(t)
				e.listen(t).SetUnlinkOnClose(false)
			},
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
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
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
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
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
				e.mkdir(t)
				e.listen(t)
				wantSignal(t, w, "socket in new directory")
			},
		},
		{
			name:   "directory removed and recreated",
			before: func(t *testing.T, e env) { e.mkdir(t) },
			opts:   []sockwatch.Option{fast, sockwatch.ReportExisting()},
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
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
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
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
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
				listen := e.bind(t)
				wantQuiet(t, w, "bound, not listening")
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
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
				e.bind(t)
				wantSignal(t, w, "bound socket")
			},
		},
		{
			name:   "other files ignored",
			before: func(t *testing.T, e env) { e.mkdir(t) },
			run: func(t *testing.T, e env, w *sockwatch.Watcher) {
				if err := os.WriteFile(filepath.Join(e.dir, "other"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
				wantQuiet(t, w, "other file")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.before != nil {
				tc.before(t, e)
			}
			w := sockwatch.New(e.addr(), tc.opts...)
			if cap(w.Changed()) != 1 {
				t.Fatalf("cap(Changed()) = %d, want 1 so that bursts collapse", cap(w.Changed()))
			}
			start(t, w)
			tc.run(t, e, w)
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
			wantQuiet(t, w, "non-unix address")
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v, want nil", err)
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
