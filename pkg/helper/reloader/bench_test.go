package reloader_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/reloader"
)

// hupCounter turns every "hup n=" line written to it into a token on hups.
type hupCounter struct{ hups chan struct{} }

func (h hupCounter) Write(p []byte) (int, error) {
	for range bytes.Count(p, []byte("hup n=")) {
		h.hups <- struct{}{}
	}
	return len(p), nil
}

// waitHUP waits for the next signal the app reports.
func waitHUP(b *testing.B, hups <-chan struct{}) {
	select {
	case <-hups:
	case <-time.After(waitTimeout):
		b.Fatal("app did not report the signal")
	}
}

// BenchmarkNotifyToChildSignal measures Notify until the child has received
// the renew signal and reported it through its stdout pipe.
func BenchmarkNotifyToChildSignal(b *testing.B) {
	ready := newOutput()
	h := hupCounter{hups: make(chan struct{}, 16)}
	r, err := reloader.New(reloader.Config{
		Cmd:    appPath(b),
		Env:    appEnv(),
		Stdout: io.MultiWriter(ready, h),
		Stderr: io.Discard,
		Log:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	runInBackground(b, r)
	r.Notify()
	ready.wait(b, "ready pid=")
	for b.Loop() {
		r.Notify()
		waitHUP(b, h.hups)
	}
}

// BenchmarkNotifyToPIDFileSignal measures Notify until the process named by
// the pid file (read fresh each time) has received the signal.
func BenchmarkNotifyToPIDFileSignal(b *testing.B) {
	pidFile := filepath.Join(b.TempDir(), "app.pid")
	r, err := reloader.New(reloader.Config{
		PIDFile: pidFile,
		Log:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	runInBackground(b, r)
	r.Notify()
	h := hupCounter{hups: make(chan struct{}, 16)}
	app := exec.Command(appPath(b))
	app.Env = appEnv(pidFileEnv + "=" + pidFile)
	app.Stdout = h
	if err := app.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = app.Process.Kill(); _ = app.Wait() })
	waitHUP(b, h.hups) // signalled when its pid file appeared
	for b.Loop() {
		r.Notify()
		waitHUP(b, h.hups)
	}
}

// runInBackground runs r until the benchmark ends and waits for Run then.
func runInBackground(b *testing.B, r *reloader.Reloader) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run() = %v", err)
		}
	})
}
