package reloader_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/reloader"
)

// appConfig returns a Config that runs the app as Cmd.
func appConfig(t *testing.T, extra ...string) (reloader.Config, *output, *output, *output) {
	log, logs := logger()
	stdout, stderr := newOutput(), newOutput()
	return reloader.Config{
		Cmd:    appPath(t),
		Env:    appEnv(extra...),
		Stdout: stdout,
		Stderr: stderr,
		Log:    log,
	}, stdout, stderr, logs
}

func TestCmdNotStartedBeforeNotify(t *testing.T) {
	cfg, stdout, _, _ := appConfig(t)
	rr := start(t, cfg)
	if err := rr.stop(t); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if got := stdout.String(); got != "" {
		t.Fatalf("cmd output before any Notify: %q", got)
	}
	if n := counter(rr.Reloader, "svidkit_helper_child_starts_total", "ok"); n != 0 {
		t.Fatalf("child starts = %v, want 0", n)
	}
}

func TestFirstNotifyStartsCmdWithOutputPassedThrough(t *testing.T) {
	cfg, stdout, stderr, logs := appConfig(t)
	rr := start(t, cfg)
	rr.Notify()
	stdout.wait(t, "ready pid=")
	stderr.wait(t, "stderr-hello")
	logs.wait(t, "started cmd")
	if n := counter(rr.Reloader, "svidkit_helper_child_starts_total", "ok"); n != 1 {
		t.Fatalf("child starts = %v, want 1", n)
	}
}

func TestNotifySignalsCmdOncePerNotify(t *testing.T) {
	cfg, stdout, _, logs := appConfig(t)
	rr := start(t, cfg)
	rr.Notify()
	stdout.wait(t, "ready pid=")
	const n = 5
	for i := 1; i <= n; i++ {
		rr.Notify()
		stdout.wait(t, fmt.Sprintf("hup n=%d\n", i))
	}
	if err := rr.stop(t); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	// The app prints its final count on SIGTERM: no extra signal arrived.
	stdout.wait(t, fmt.Sprintf("term hups=%d\n", n))
	logs.wait(t, "cmd stopped")
	if got := counter(rr.Reloader, "svidkit_helper_signals_sent_total", "child"); got != n {
		t.Fatalf("signals sent to child = %v, want %d", got, n)
	}
	if got := counter(rr.Reloader, "svidkit_helper_child_starts_total", "ok"); got != 1 {
		t.Fatalf("child starts = %v, want 1", got)
	}
}

func TestNotifyBurstCollapsesButSignals(t *testing.T) {
	cfg, stdout, _, _ := appConfig(t)
	rr := start(t, cfg)
	rr.Notify()
	stdout.wait(t, "ready pid=")
	const burst = 50
	for range burst {
		rr.Notify()
	}
	stdout.wait(t, "hup n=1\n")
	if err := rr.stop(t); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	stdout.wait(t, "term hups=")
	if n := stdout.count("hup n="); n < 1 || n > burst {
		t.Fatalf("app got %d signals for a burst of %d notifications", n, burst)
	}
}

func TestStopKillsCmdThatIgnoresSIGTERM(t *testing.T) {
	cfg, stdout, _, logs := appConfig(t, ignoreTermEnv+"=1")
	cfg.StopGrace = 100 * time.Millisecond
	rr := start(t, cfg)
	rr.Notify()
	stdout.wait(t, "ready pid=")
	if err := rr.stop(t); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	logs.wait(t, "killing its process group")
	logs.wait(t, "signal=killed")
}

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		policy      reloader.RestartPolicy
		code        int
		wantRestart bool
	}{
		{reloader.RestartNever, 3, false},
		{reloader.RestartNever, 0, false},
		{reloader.RestartOnFailure, 3, true},
		{reloader.RestartOnFailure, 0, false},
		{reloader.RestartAlways, 0, true},
		{reloader.RestartAlways, 3, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/exit%d", tt.policy, tt.code), func(t *testing.T) {
			cfg, stdout, _, logs := appConfig(t, fmt.Sprintf("%s=%d", exitEnv, tt.code))
			cfg.Restart = tt.policy
			cfg.RestartBackoff = 10 * time.Millisecond
			rr := start(t, cfg)
			rr.Notify()
			stdout.wait(t, "ready pid=")
			logs.wait(t, fmt.Sprintf("code=%d", tt.code))
			if tt.wantRestart {
				logs.wait(t, "restart_in=10ms")
				stdout.waitCount(t, "ready pid=", 2)
				return
			}
			logs.wait(t, "restart=false")
			if n := stdout.count("ready pid="); n != 1 {
				t.Fatalf("app started %d times, want 1", n)
			}
			// Like spiffe-helper, the next write starts it again.
			rr.Notify()
			stdout.waitCount(t, "ready pid=", 2)
		})
	}
}

func TestNotifyBeforeRunIsKept(t *testing.T) {
	cfg, stdout, _, _ := appConfig(t)
	r, err := reloader.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Notify()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stdout.wait(t, "ready pid=")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	stdout.wait(t, "term hups=0\n")
}
