package wlclient_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/wlclient"
)

// session is one call of the Loop's Session, scripted by the test: the
// test reads it from the calls channel and tells it what to return. The
// sessions are test code because the Loop under test is what runs them.
type session struct {
	ctx    context.Context
	result chan error
}

// scripted returns a Session function that hands each call to the test.
func scripted(calls chan<- session) func(context.Context) error {
	return func(ctx context.Context) error {
		s := session{ctx: ctx, result: make(chan error, 1)}
		calls <- s
		select {
		case err := <-s.result:
			return err
		case <-ctx.Done():
			return nil
		}
	}
}

// retryLog records the retry_in of each "session ended" warning.
type retryLog struct{ delays chan time.Duration }

func (l retryLog) Enabled(context.Context, slog.Level) bool { return true }
func (l retryLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l retryLog) WithGroup(string) slog.Handler            { return l }
func (l retryLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "retry_in" {
			l.delays <- a.Value.Duration()
		}
		return true
	})
	return nil
}

// harness runs a Loop with scripted sessions until the test ends.
type harness struct {
	t         *testing.T
	ctx       context.Context
	calls     chan session
	reconnect chan struct{}
	delays    chan time.Duration
	done      chan error
	cancel    context.CancelFunc
}

func start(t *testing.T, bo wlclient.Backoff) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	h := &harness{
		t: t, ctx: ctx, cancel: cancel,
		calls:     make(chan session),
		reconnect: make(chan struct{}),
		delays:    make(chan time.Duration, 16),
		done:      make(chan error, 1),
	}
	loop := &wlclient.Loop{
		Session:   scripted(h.calls),
		Reconnect: h.reconnect,
		Backoff:   bo,
		Address:   "unix:///test",
		Log:       slog.New(retryLog{delays: h.delays}),
	}
	runCtx, stop := context.WithCancel(ctx)
	go func() { h.done <- loop.Run(runCtx) }()
	h.cancel = func() { stop(); cancel() }
	t.Cleanup(func() {
		stop()
		if err := <-h.done; err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
		cancel()
	})
	return h
}

// next waits for the next session to start.
func (h *harness) next() session {
	h.t.Helper()
	select {
	case s := <-h.calls:
		return s
	case <-h.ctx.Done():
		h.t.Fatal("no new session started before the test deadline")
		return session{}
	}
}

// delay waits for the next logged retry delay.
func (h *harness) delay() time.Duration {
	h.t.Helper()
	select {
	case d := <-h.delays:
		return d
	case <-h.ctx.Done():
		h.t.Fatal("no retry logged before the test deadline")
		return 0
	}
}

// ended waits for s's context to end.
func (h *harness) ended(s session) {
	h.t.Helper()
	select {
	case <-s.ctx.Done():
	case <-time.After(10 * time.Second):
		h.t.Fatal("the running session was not ended")
	}
}

func (h *harness) signalReconnect() {
	h.t.Helper()
	select {
	case h.reconnect <- struct{}{}:
	case <-h.ctx.Done():
		h.t.Fatal("loop did not take the reconnect signal before the test deadline")
	}
}

var errSession = errors.New("watch failed")

// TestLoopBackoff checks that failed sessions are retried after doubling
// delays and that a reconnect starts the backoff again from Min.
func TestLoopBackoff(t *testing.T) {
	h := start(t, wlclient.Backoff{Min: time.Millisecond, Max: time.Hour})
	h.next().result <- errSession
	if d := h.delay(); d != time.Millisecond {
		t.Fatalf("first retry_in = %v, want Min 1ms", d)
	}
	h.next().result <- errSession
	if d := h.delay(); d != 2*time.Millisecond {
		t.Fatalf("second retry_in = %v, want 2ms", d)
	}
	running := h.next()
	h.signalReconnect()
	h.ended(running) // the reconnect ends the running session
	h.next().result <- errSession
	if d := h.delay(); d != time.Millisecond {
		t.Fatalf("retry_in after a reconnect = %v, want Min 1ms again (backoff reset)", d)
	}
	h.next()
}

// TestLoopReconnectCutsWait checks that the socket being recreated starts
// a new session at once instead of after the (hour-long) backoff.
func TestLoopReconnectCutsWait(t *testing.T) {
	h := start(t, wlclient.Backoff{Min: time.Hour, Max: time.Hour})
	h.next().result <- errSession
	if d := h.delay(); d != time.Hour {
		t.Fatalf("retry_in = %v, want 1h", d)
	}
	h.signalReconnect()
	h.next()
}

// TestLoopCancel checks that ending the context ends the running session
// and Run returns nil (checked in the harness cleanup).
func TestLoopCancel(t *testing.T) {
	h := start(t, wlclient.Backoff{Min: time.Hour, Max: time.Hour})
	s := h.next()
	h.cancel()
	h.ended(s)
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup's check
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
