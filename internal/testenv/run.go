package testenv

import (
	"context"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a daemon may take to start or stop.
const startTimeout = 30 * time.Second

// run starts a daemon's Run in a goroutine and waits for it to report that
// it serves. stop cancels it and waits for Run to return; it is
// idempotent and registered with t.Cleanup, so a test calls it only to
// stop the daemon early.
func run[T any](t testing.TB, name string, fn func(ctx context.Context, started func(T)) error) (v T, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan T, 1)
	done := make(chan error, 1)
	go func() { done <- fn(ctx, func(v T) { started <- v }) }()
	select {
	case v = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("testenv: %s exited before serving: %v", name, err)
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("testenv: %s did not serve within %s", name, startTimeout)
	}
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("testenv: %s: %v", name, err)
			}
		case <-time.After(startTimeout):
			t.Errorf("testenv: %s did not stop within %s", name, startTimeout)
		}
	})
	t.Cleanup(stop)
	return v, stop
}
