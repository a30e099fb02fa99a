package profiling_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/profiletest"
	"github.com/svidkit/svidkit/pkg/profiling"
)

const stopTimeout = 10 * time.Second

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestEndpoint: the endpoint serves real profiles on 127.0.0.1 and on no
// other address, and stops listening when cancelled.
func TestEndpoint(t *testing.T) {
	port := freeport.ForTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- profiling.NewEndpoint(port, logger(t)).Run(ctx) }()

	if p := profiletest.Fetch(t, port, "heap"); len(p.SampleType) == 0 {
		t.Error("heap profile has no sample types")
	}
	if p := profiletest.Fetch(t, port, "goroutine"); len(p.Sample) == 0 {
		t.Error("goroutine profile has no samples")
	}
	profiletest.LoopbackOnly(t, port)

	cancel()
	waitStopped(t, done)
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
		c.Close()
		t.Error("the endpoint still accepts connections after Run returned")
	}
}

// TestEndpointPortTaken: a port in use is an error naming the address,
// not a silent start without an endpoint.
func TestEndpointPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	err = profiling.NewEndpoint(port, logger(t)).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("Run = %v, want an error naming 127.0.0.1:%d", err, port)
	}
}

// TestWriterWritesEveryName: every SPIRE profile name is written, each
// file 0600 and complete, into a directory made 0700 (even one that
// existed with a wider mode); partial cpu and trace recordings are removed
// at stop.
func TestWriterWritesEveryName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profiles")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := profiling.Names()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := &profiling.Writer{Dir: dir, Tag: "test", Interval: 100 * time.Millisecond, Names: names, Log: logger(t)}
	go func() { done <- w.Run(ctx) }()

	profiletest.Files(t, dir, "test", names...)

	cancel()
	waitStopped(t, done)
	left, err := filepath.Glob(filepath.Join(dir, ".*"))
	if err != nil || len(left) != 0 {
		t.Errorf("files left under a temporary name after stop: %v (%v)", left, err)
	}
}

// TestWriterUnknownName: a name Go has no profile for stops the writer
// with an error naming it (the configuration refuses it first).
func TestWriterUnknownName(t *testing.T) {
	w := &profiling.Writer{Dir: t.TempDir(), Tag: "test", Interval: time.Second, Names: []string{"heap", "allocs"}, Log: logger(t)}
	if err := w.Run(context.Background()); err == nil || !strings.Contains(err.Error(), `"allocs"`) {
		t.Fatalf("Run = %v, want an error naming \"allocs\"", err)
	}
}

// TestTasks: the endpoint and the writer run only when profiling is
// enabled and their setting is given, as in SPIRE.
func TestTasks(t *testing.T) {
	tests := []struct {
		name string
		cfg  profiling.Config
		want []string
	}{
		{"disabled", profiling.Config{Port: 6060, Interval: time.Second, Names: []string{"heap"}}, nil},
		{"enabled alone", profiling.Config{Enabled: true}, nil},
		{"endpoint", profiling.Config{Enabled: true, Port: 6060}, []string{"profiling endpoint"}},
		{"writer", profiling.Config{Enabled: true, Interval: time.Second, Names: []string{"heap"}}, []string{"profile writer"}},
		{"both", profiling.Config{Enabled: true, Port: 6060, Interval: time.Second}, []string{"profiling endpoint", "profile writer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, task := range profiling.Tasks(tt.cfg) {
				got = append(got, task.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Tasks = %q, want %q", got, tt.want)
			}
		})
	}
}

// waitStopped fails the test unless Run, cancelled, returns nil on done
// within stopTimeout.
func waitStopped(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v after cancel, want nil", err)
		}
	case <-time.After(stopTimeout):
		t.Fatal("Run did not return after cancel")
	}
}
