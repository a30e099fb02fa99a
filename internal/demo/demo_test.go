package demo_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/demo"
	"github.com/svidkit/svidkit/internal/gobuild"
)

// Short lifetimes for the tests: a rotation every 4s.
const (
	testTTL     = "8"
	testSeconds = "30"
)

// TestDemo runs the real demo program on the real binaries, as
// `go tool task demo` does, with short X.509-SVID lifetimes.
func TestDemo(t *testing.T) {
	bin := gobuild.Binaries(t, "server", "agent", "helper", "sds")
	gobuild.Package(t, "./internal/demo/cmd", filepath.Join(bin, "demo"))

	// For SVIDKIT_DEMO_SECONDS it shows all three patterns rotating at
	// least twice, the init container exiting 0 after its entry appeared,
	// and stops every process it started.
	t.Run("fixed time", func(t *testing.T) {
		d := startDemo(t, bin)
		d.wait(t, 90*time.Second)
		sum := d.summary(t)
		for _, p := range []struct {
			name string
			got  demo.PatternSummary
		}{{"workload", sum.Workload}, {"helper sidecar", sum.HelperSidecar}, {"sds", sum.SDS}} {
			if p.got.Rotations < 2 {
				t.Errorf("%s saw %d rotations (serials %v), want at least 2\n%s", p.name, p.got.Rotations, p.got.Serials, d.output())
			}
		}
		init := sum.HelperInit
		if init.ExitCode != 0 {
			t.Errorf("init-container helper exit code %d, want 0", init.ExitCode)
		}
		if !init.EntryCreated.After(init.Started) || !init.Exited.After(init.EntryCreated) {
			t.Errorf("init-container helper started %s, entry created %s, exited %s: want it to exit after its entry appeared",
				init.Started, init.EntryCreated, init.Exited)
		}
		if init.Serial == "" || len(sum.HelperSidecar.Serials) == 0 {
			t.Errorf("init wrote serial %q; sidecar served %v", init.Serial, sum.HelperSidecar.Serials)
		}
		for _, want := range []string{"[1] Workload API", "[2] helper", "[3] svidkit-sds", "rotations 2"} {
			if !strings.Contains(d.output(), want) {
				t.Errorf("status output lacks %q:\n%s", want, d.output())
			}
		}
		d.checkNoneLeft(t, sum)
	})

	// Ctrl-C (SIGINT to the demo alone: its children run in their own
	// process groups) stops every process, the sidecar's TLS server (a
	// grandchild) included.
	t.Run("ctrl-c", func(t *testing.T) {
		d := startDemo(t, bin)
		d.waitLine(t, "sidecar TLS:", 60*time.Second)
		if left := demo.Leftovers(d.marker); len(left) < 6 {
			t.Fatalf("found %d demo processes while it runs (%v), want the demo, server, agent, svidkit-sds, the sidecar helper and its TLS server", len(left), left)
		}
		if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		d.wait(t, 30*time.Second)
		d.checkNoneLeft(t, d.summary(t))
	})
}

// run is one demo process.
type run struct {
	cmd    *exec.Cmd
	dir    string
	marker string
	lines  chan string
	out    strings.Builder // every line read so far
	done   chan error
}

func startDemo(t *testing.T, bin string) *run {
	t.Helper()
	work := t.TempDir()
	r := &run{dir: filepath.Join(work, ".demo"), marker: strings.ReplaceAll(t.Name(), "/", "-") + "-" + filepath.Base(work),
		lines: make(chan string, 256), done: make(chan error, 1)}
	r.cmd = exec.Command(filepath.Join(bin, "demo"), "-bin", bin, "-dir", r.dir)
	r.cmd.Dir = work
	r.cmd.Env = append(os.Environ(), "SVIDKIT_DEMO_SECONDS="+testSeconds, "SVIDKIT_DEMO_TTL="+testTTL, demo.MarkerEnv+"="+r.marker)
	r.cmd.Stderr = os.Stderr
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	t.Cleanup(func() {
		// A failed test still leaves nothing running.
		_ = r.cmd.Process.Kill()
		for _, pid := range demo.Leftovers(r.marker) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return r
}

// waitLine reads the demo's output until a line contains want.
func (r *run) waitLine(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("demo ended before printing %q:\n%s", want, r.output())
			}
			r.out.WriteString(l + "\n")
			if strings.Contains(l, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no line with %q after %s:\n%s", want, timeout, r.output())
		}
	}
}

// wait reads the output to its end and waits for a clean exit.
func (r *run) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		select {
		case l, ok := <-r.lines:
			if ok {
				r.out.WriteString(l + "\n")
				continue
			}
			if err := r.cmd.Wait(); err != nil {
				t.Fatalf("demo: %v\n%s", err, r.output())
			}
			return
		case <-ctx.Done():
			t.Fatalf("demo still running after %s:\n%s", timeout, r.output())
		}
	}
}

func (r *run) output() string { return r.out.String() }

func (r *run) summary(t *testing.T) demo.Summary {
	t.Helper()
	sum, err := demo.ReadSummary(filepath.Join(r.dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Marker != r.marker {
		t.Fatalf("summary of run %q, want %q", sum.Marker, r.marker)
	}
	return sum
}

// checkNoneLeft fails if a process of the run is still alive, or had to be
// killed after its group was stopped.
func (r *run) checkNoneLeft(t *testing.T, sum demo.Summary) {
	t.Helper()
	if left := demo.Leftovers(r.marker); len(left) > 0 {
		t.Errorf("processes %v of the demo still run after it exited", left)
	}
	stopped := map[string]int{}
	for _, s := range sum.Stopped {
		stopped[s.Name] = s.ExitCode
	}
	// helper-init exited by itself before; the others must have shut
	// down cleanly on the demo's SIGTERM.
	for _, name := range []string{"server", "agent", "sds", "helper-sidecar"} {
		if code, ok := stopped[name]; !ok || code != 0 {
			t.Errorf("%s: stopped %t, exit code %d; want stopped with exit code 0 (stopped: %+v)", name, ok, code, sum.Stopped)
		}
	}
	if len(sum.Killed) > 0 || sum.Error != "" {
		t.Errorf("demo killed %v at the end; error %q", sum.Killed, sum.Error)
	}
}
