package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// proberStopTimeout bounds a phase's result after the stop request:
	// the probes in flight finish (probeTimeout), then delete their entry.
	proberStopTimeout = probeTimeout + adminCallTimeout + 10*time.Second
	// proberExitTimeout bounds the prober's exit once its stdin is closed
	// before it is killed.
	proberExitTimeout = probeTimeout + adminCallTimeout
	// stderrTail is how much of the prober's stderr its exit error quotes.
	stderrTail = 2048
)

// proberProc is the prober process (proberchild.go) as the load generator
// drives it: this program re-executed with SVIDKIT_LOADGEN_PROBER=1,
// requests on its stdin, replies on its stdout.
type proberProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	enc   *json.Encoder
	// replies carries the decoded replies; the reader closes done (after
	// setting exitErr) once the process has exited.
	replies chan proberReply
	done    chan struct{}
	exitErr error
	stderr  *tailWriter
}

// proberCommand is this program re-executed as the prober.
func proberCommand() (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("loadgen: prober: own executable: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), proberEnv+"=1")
	return cmd, nil
}

// startProber starts the prober process, optionally pinned to cpus, sends
// it setup and returns once its probe agents attested.
func startProber(ctx context.Context, setup proberSetup, cpus []int) (*proberProc, error) {
	cmd, err := proberCommand()
	if err != nil {
		return nil, err
	}
	return launchProber(ctx, cmd, setup, cpus)
}

// launchProber starts cmd as the prober, sends it setup and waits for
// its ready reply; on any failure the process is killed.
func launchProber(ctx context.Context, cmd *exec.Cmd, setup proberSetup, cpus []int) (*proberProc, error) {
	p, err := spawnProber(cmd, cpus)
	if err != nil {
		return nil, err
	}
	if err := p.send(proberRequest{Setup: &setup}); err != nil {
		p.kill()
		return nil, err
	}
	r, err := p.await(ctx, proberReadyTimeout+10*time.Second, "ready")
	if err == nil && !r.Ready {
		err = p.protocolError("setup answered without ready")
	}
	if err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// spawnProber starts cmd with pipes for requests and replies.
func spawnProber(cmd *exec.Cmd, cpus []int) (*proberProc, error) {
	// The kernel stops the prober if the load generator dies first; it
	// also exits when its stdin ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proberProc{cmd: cmd, replies: make(chan proberReply, 4), done: make(chan struct{}), stderr: &tailWriter{max: stderrTail}}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("loadgen: prober: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("loadgen: prober: %w", err)
	}
	if err := startPinned(cmd, cpus); err != nil {
		return nil, fmt.Errorf("loadgen: prober: start: %w", err)
	}
	p.enc = json.NewEncoder(p.stdin)
	go p.read(stdout)
	return p, nil
}

// pid is the prober's process ID.
func (p *proberProc) pid() int { return p.cmd.Process.Pid }

// read decodes replies until stdout ends or holds something else than a
// reply, then waits for the process and records why it ended.
func (p *proberProc) read(stdout io.Reader) {
	dec := json.NewDecoder(stdout)
	var protoErr error
	for {
		var r proberReply
		if err := dec.Decode(&r); err != nil {
			if !errors.Is(err, io.EOF) {
				protoErr = fmt.Errorf("unreadable reply: %w", err)
				_ = p.cmd.Process.Kill()
			}
			break
		}
		// Each request has at most one reply, and an error reply ends the
		// prober: a full channel means replies nobody asked for.
		select {
		case p.replies <- r:
			continue
		default:
		}
		protoErr = errors.New("replies nobody asked for")
		_ = p.cmd.Process.Kill()
		break
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := p.cmd.Wait()
	switch {
	case protoErr != nil:
		p.exitErr = fmt.Errorf("loadgen: prober (pid %d): %w", p.pid(), protoErr)
	case werr != nil:
		p.exitErr = fmt.Errorf("loadgen: prober (pid %d) exited: %w%s", p.pid(), werr, p.stderr.quote())
	default:
		p.exitErr = fmt.Errorf("loadgen: prober (pid %d) exited%s", p.pid(), p.stderr.quote())
	}
	close(p.done)
}

// send writes one request.
func (p *proberProc) send(req proberRequest) error {
	if err := p.enc.Encode(req); err != nil {
		select {
		case <-p.done:
			return p.exitErr
		default:
			return fmt.Errorf("loadgen: prober (pid %d): write request: %w", p.pid(), err)
		}
	}
	return nil
}

// await returns the next reply, failing when it is an error, when the
// prober exits first, after limit or when ctx ends.
func (p *proberProc) await(ctx context.Context, limit time.Duration, what string) (proberReply, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	var r proberReply
	select {
	case r = <-p.replies:
	case <-p.done:
		// A reply read before the exit comes first.
		select {
		case r = <-p.replies:
		default:
			return r, p.exitErr
		}
	case <-t.C:
		return r, fmt.Errorf("loadgen: prober (pid %d): no %s reply within %s", p.pid(), what, limit)
	case <-ctx.Done():
		return r, fmt.Errorf("loadgen: prober (pid %d): waiting for %s: %w", p.pid(), what, ctx.Err())
	}
	if r.Error != "" {
		return r, fmt.Errorf("loadgen: prober (pid %d): %s", p.pid(), r.Error)
	}
	return r, nil
}

func (p *proberProc) protocolError(msg string) error {
	return fmt.Errorf("loadgen: prober (pid %d): %s", p.pid(), msg)
}

// startPhase starts probing at rate per second (0: none).
func (p *proberProc) startPhase(name string, rate float64) error {
	return p.send(proberRequest{Phase: &proberPhase{Name: name, Rate: rate}})
}

// stopPhase ends the phase and returns its timings.
func (p *proberProc) stopPhase(ctx context.Context, name string) (*probes, error) {
	if err := p.send(proberRequest{Stop: true}); err != nil {
		return nil, err
	}
	r, err := p.await(ctx, proberStopTimeout, name+" result")
	if err != nil {
		return nil, err
	}
	if r.Result == nil {
		return nil, p.protocolError("stop answered without a result")
	}
	return r.Result, nil
}

// close ends the prober: its stdin is closed, and it is killed if it has
// not exited within proberExitTimeout.
func (p *proberProc) close() error {
	err := p.stdin.Close()
	t := time.NewTimer(proberExitTimeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.kill()
	}
	if err != nil {
		return fmt.Errorf("loadgen: prober (pid %d): close stdin: %w", p.pid(), err)
	}
	return nil
}

// kill stops the prober at once and waits for its end.
func (p *proberProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, b...)
	if over := len(w.b) - w.max; over > 0 {
		w.b = append(w.b[:0], w.b[over:]...)
	}
	return len(b), nil
}

// quote returns "; stderr: <tail>" or "" when nothing was written.
func (w *tailWriter) quote() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := strings.TrimSpace(string(w.b))
	if s == "" {
		return ""
	}
	return "; stderr: " + s
}
