package helper_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper"
)

// chanWriter sends everything written to it on a channel.
type chanWriter struct {
	mu sync.Mutex
	ch chan string
}

func (w *chanWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.ch <- string(p):
	default:
	}
	return len(p), nil
}

// TestCmdStartsWhenSetAlreadyOnDisk: a helper restarted over an identical
// set on disk rewrites nothing, but must still start cmd.
func TestCmdStartsWhenSetAlreadyOnDisk(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(t, ca, sock)
	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	api.Start(t)
	cfg := x509Config(t, sock)

	first, err := helper.New(cfg, helper.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	waitEvent(t, first, 5*time.Second, "the first helper's write", isWrite)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	cfg.Cmd, cfg.CmdArgs = "/bin/sh", []string{"-c", "echo started; exec sleep 60"}
	out := &chanWriter{ch: make(chan string, 10)}
	second, _ := start(t, cfg, helper.Options{Stdout: out})
	ev := waitEvent(t, second, 5*time.Second, "the second helper's write", isWrite)
	if ev.Changed || !ev.Notified {
		t.Fatalf("second helper's first write = %+v, want Changed=false Notified=true", ev)
	}
	select {
	case s := <-out.ch:
		if !strings.Contains(s, "started") {
			t.Fatalf("cmd printed %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cmd was not started")
	}
}
