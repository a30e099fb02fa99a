package reloader_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/reloader"
)

// The test binary doubles as the application under test: with childEnv set
// it runs appMain instead of the tests. The app counts SIGHUPs and reports
// each on stdout, so tests wait on its output instead of sleeping.
const (
	childEnv      = "RELOADER_TEST_APP"
	exitEnv       = "RELOADER_TEST_EXIT"        // exit with this code once ready
	ignoreTermEnv = "RELOADER_TEST_IGNORE_TERM" // survive SIGTERM
	pidFileEnv    = "RELOADER_TEST_PIDFILE"     // write the pid here once ready
	pgStyleEnv    = "RELOADER_TEST_PG_STYLE"    // write it in steps, PostgreSQL style
	// launchEnv makes the test binary a launcher of target processes
	// (launchMain) running as the uid it holds.
	launchEnv = "RELOADER_TEST_LAUNCH_UID"
)

// waitTimeout bounds every wait for an event.
const waitTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		appMain()
		return
	}
	if os.Getenv(launchEnv) != "" {
		launchMain()
		return
	}
	os.Exit(m.Run())
}

func appMain() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM)
	pid := os.Getpid()
	if path := os.Getenv(pidFileEnv); path != "" {
		if err := writePIDFile(path, pid, os.Getenv(pgStyleEnv) != ""); err != nil {
			fmt.Fprintln(os.Stderr, "app:", err)
			os.Exit(2)
		}
	}
	fmt.Fprintln(os.Stderr, "stderr-hello")
	fmt.Printf("ready pid=%d\n", pid)
	if code := os.Getenv(exitEnv); code != "" {
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	hups := 0
	for s := range sigs {
		switch s {
		case syscall.SIGHUP:
			hups++
			fmt.Printf("hup n=%d\n", hups)
		case syscall.SIGTERM:
			if os.Getenv(ignoreTermEnv) != "" {
				fmt.Println("term ignored")
				continue
			}
			fmt.Printf("term hups=%d\n", hups)
			os.Exit(0)
		}
	}
}

// writePIDFile writes pid to path; pgStyle writes it as PostgreSQL writes
// postmaster.pid: create empty, then the pid line, then further lines, each
// a separate write.
func writePIDFile(path string, pid int, pgStyle bool) error {
	if !pgStyle {
		return os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, part := range []string{strconv.Itoa(pid) + "\n", "/var/lib/postgresql/data\n", "1700000000\n", "5432\n", "/var/run/postgresql\n"} {
		if _, err := f.WriteString(part); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// appEnv returns the environment for an app process with extra settings.
// Under the race detector the app would sleep a second on a clean exit.
func appEnv(extra ...string) []string {
	return append(append(os.Environ(), childEnv+"=1", "GORACE=atexit_sleep_ms=0"), extra...)
}

// appPath returns the test binary, which is the app.
func appPath(t testing.TB) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// output collects what a process or logger writes and lets tests wait for
// it with a deadline.
type output struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// count returns how often s occurs in the output.
func (o *output) count(s string) int { return strings.Count(o.String(), s) }

// waitCount waits until s occurs at least n times.
func (o *output) waitCount(t testing.TB, s string, n int) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		got, ch := strings.Count(o.buf.String(), s), o.changed
		o.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %d× %q; output:\n%s", n, s, o.String())
		}
	}
}

// wait waits until s occurs.
func (o *output) wait(t testing.TB, s string) { t.Helper(); o.waitCount(t, s, 1) }

// running is a Reloader running in the background.
type running struct {
	*reloader.Reloader
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// start creates a Reloader from cfg and runs it until stop or the end of
// the test.
func start(t *testing.T, cfg reloader.Config) *running {
	t.Helper()
	r, err := reloader.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr := &running{Reloader: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(ctx) }()
	t.Cleanup(func() { rr.stop(t) })
	return rr
}

// stop cancels Run and returns its result, failing the test if Run does
// not return in time.
func (rr *running) stop(t testing.TB) error {
	t.Helper()
	rr.once.Do(func() {
		rr.cancel()
		select {
		case rr.err = <-rr.done:
		case <-time.After(waitTimeout):
			t.Fatalf("Run did not return after cancel")
		}
	})
	return rr.err
}

// logger returns a debug logger writing into a new output.
func logger() (*slog.Logger, *output) {
	o := newOutput()
	return slog.New(slog.NewTextHandler(o, &slog.HandlerOptions{Level: slog.LevelDebug})), o
}

// app is an app process started by a test rather than by the Reloader.
type app struct {
	cmd    *exec.Cmd
	out    *output
	waited chan struct{}
}

// startApp starts the app outside the Reloader (the pid file case).
func startApp(t *testing.T, extra ...string) *app {
	t.Helper()
	a := &app{cmd: exec.Command(appPath(t)), out: newOutput(), waited: make(chan struct{})}
	a.cmd.Env = appEnv(extra...)
	a.cmd.Stdout = a.out
	a.cmd.Stderr = newOutput()
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.cmd.Wait(); close(a.waited) }()
	t.Cleanup(a.kill)
	return a
}

// kill kills the app and waits until it is reaped.
func (a *app) kill() {
	_ = a.cmd.Process.Kill()
	<-a.waited
}

// pid returns the app's pid.
func (a *app) pid() int { return a.cmd.Process.Pid }
