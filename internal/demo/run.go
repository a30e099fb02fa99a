package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// demo is one run's state.
type demo struct {
	cfg    Config
	screen *screen
	marker string

	port                                                    int
	sockDir, adminSocket, agentSocket, sdsSocket, tlsSocket string
	nodeID, workloadID, helperID, envoyID                   string

	logs struct{ workload, envoy, tls *os.File }
	// Serials seen by each rotating pattern.
	workload, sidecar, sds serials
	initLine               string // the init container's outcome, for the helper's status line

	mu         sync.Mutex
	init       InitSummary
	procs      []*proc // in start order
	killedPIDs []int
	stopped    []Stopped
}

// Run runs the demo until ctx ends or Config.Duration passes, then stops
// every process it started and writes summary.json. The error is nil
// after a clean stop.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	d := &demo{cfg: cfg, screen: newScreen(cfg.Out, cfg.Terminal, cfg.Width, patterns), marker: os.Getenv(MarkerEnv)}
	d.init.ExitCode = -1
	if d.marker == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		d.marker = hex.EncodeToString(b)
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	runErr := d.run(ctx)
	if ctx.Err() != nil && (errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded)) {
		runErr = nil // Ctrl-C or the time limit during start-up
	}
	if runErr != nil {
		d.screen.step("error: %v", runErr)
	}
	d.screen.step("stopping every process (reverse start order)")
	stopErr := d.stopAll()
	d.closeLogs()
	if d.sockDir != "" {
		os.RemoveAll(d.sockDir)
	}
	sum := d.summary()
	if err := errors.Join(runErr, stopErr); err != nil {
		sum.Error = err.Error()
	}
	if err := writeSummary(filepath.Join(cfg.Dir, "summary.json"), sum); err != nil {
		return sum, errors.Join(runErr, stopErr, err)
	}
	if stopErr == nil {
		d.screen.step("stopped, no process left; summary in %s", d.rel(filepath.Join(cfg.Dir, "summary.json")))
	}
	return sum, errors.Join(runErr, stopErr)
}

// run sets up the daemons and runs the three patterns until ctx ends.
func (d *demo) run(ctx context.Context) error {
	if err := d.prepare(); err != nil {
		return err
	}
	if err := d.startDaemons(ctx); err != nil {
		return err
	}
	if err := d.createEntry(ctx, d.workloadID, d.cfg.Self); err != nil {
		return err
	}
	if err := d.createEntry(ctx, d.envoyID, d.bin("svidkit-sds")); err != nil {
		return err
	}
	d.screen.step("registered %s (this process) and %s (svidkit-sds), selected by unix:uid and unix:path", d.workloadID, d.envoyID)
	d.screen.step("[1] this process watches its own SVID on the Workload API with go-spiffe")
	sds, err := d.start(procSpec{name: "sds", argv: []string{d.bin("svidkit-sds"), "run",
		"-agent-address", "unix://" + d.agentSocket, "-listen", d.sdsSocket}})
	if err != nil {
		return err
	}
	d.screen.step("[3] started svidkit-sds; an SDS client (go-control-plane) asks it for \"default\" and \"ROOTCA\"")
	d.screen.step("SVIDs live %s and rotate at half life; details in %s/*.log; Ctrl-C stops", d.cfg.SVIDTTL, d.rel(d.cfg.Dir))
	return taskrun.Run(ctx,
		taskrun.Task{Name: "workload", Run: d.watchWorkload},
		taskrun.Task{Name: "helper", Run: d.runHelper},
		taskrun.Task{Name: "sds client", Run: d.watchSDS},
		taskrun.Task{Name: "svidkit-sds", Run: func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return nil
			case <-sds.done:
				return fmt.Errorf("exited (code %d): see %s", sds.exitCode(), d.logPath("sds"))
			}
		}},
	)
}

// prepare empties the demo directory, opens the pattern logs and picks a
// socket directory and the server's port.
func (d *demo) prepare() error {
	if err := os.RemoveAll(d.cfg.Dir); err != nil {
		return fmt.Errorf("demo: clear %s: %w", d.cfg.Dir, err)
	}
	for _, sub := range []string{"", "server", "agent", "helper-init", "helper-sidecar"} {
		if err := os.MkdirAll(filepath.Join(d.cfg.Dir, sub), 0o700); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	for name, f := range map[string]**os.File{"workload": &d.logs.workload, "envoy": &d.logs.envoy, "tls-client": &d.logs.tls} {
		var err error
		if *f, err = os.OpenFile(d.logPath(name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fmt.Errorf("demo: open log: %w", err)
		}
	}
	// Unix socket paths are limited to 108 bytes: a short private
	// directory under /tmp rather than under the repository.
	dir, err := os.MkdirTemp("", "svidkit-demo-")
	if err != nil {
		return fmt.Errorf("demo: socket directory: %w", err)
	}
	d.sockDir = dir
	d.adminSocket = filepath.Join(dir, "admin.sock")
	d.agentSocket = filepath.Join(dir, "agent.sock")
	d.sdsSocket = filepath.Join(dir, "sds.sock")
	d.tlsSocket = filepath.Join(dir, "tls.sock")
	if d.port, err = freeport.Port(); err != nil {
		return err
	}
	td := "spiffe://" + TrustDomain
	d.nodeID, d.workloadID, d.helperID, d.envoyID = td+"/node", td+"/workload", td+"/app", td+"/envoy"
	return nil
}

// start starts a child and records it for stopAll.
func (d *demo) start(spec procSpec) (*proc, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := start(d.cfg.Dir, d.marker, spec)
	if err != nil {
		return nil, err
	}
	d.procs = append(d.procs, p)
	return p, nil
}

// stopAll stops the children in reverse start order, then kills any
// process still carrying the run's marker.
func (d *demo) stopAll() error {
	d.mu.Lock()
	procs := d.procs
	d.mu.Unlock()
	var errs []error
	var stopped []Stopped
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].stop(); err != nil {
			errs = append(errs, err)
		}
		stopped = append(stopped, Stopped{Name: procs[i].name, ExitCode: procs[i].exitCode()})
	}
	d.mu.Lock()
	d.stopped = stopped
	d.mu.Unlock()
	if left := Leftovers(d.marker); len(left) > 0 {
		for _, pid := range left {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
		d.mu.Lock()
		d.killedPIDs = left
		d.mu.Unlock()
		errs = append(errs, fmt.Errorf("demo: processes %v outlived their group and were killed", left))
	}
	return errors.Join(errs...)
}

func (d *demo) closeLogs() {
	for _, f := range []*os.File{d.logs.workload, d.logs.envoy, d.logs.tls} {
		if f != nil {
			f.Close()
		}
	}
}

func (d *demo) setInit(f func(*InitSummary)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.init)
}

func (d *demo) summary() Summary {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Summary{
		Marker:        d.marker,
		Workload:      patternSummary(d.workloadID, &d.workload),
		HelperInit:    d.init,
		HelperSidecar: patternSummary(d.helperID, &d.sidecar),
		SDS:           patternSummary(d.envoyID, &d.sds),
		Stopped:       d.stopped,
		Killed:        d.killedPIDs,
	}
}

// bin is the path of a svidkit binary.
func (d *demo) bin(name string) string { return filepath.Join(d.cfg.Bin, name) }

// logPath is the log file of a child or pattern.
func (d *demo) logPath(name string) string { return filepath.Join(d.cfg.Dir, name+".log") }

// rel shows path relative to the working directory when it is below it.
func (d *demo) rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// pollEvery is how often readiness is polled.
const pollEvery = 100 * time.Millisecond
