package reloader_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/prereq"
	"github.com/svidkit/svidkit/pkg/helper/reloader"
)

const (
	nobody     = 65534
	logSignal  = "signalled pid file process"
	logRefusal = "refusing to signal the pid file's process"
)

// writePIDFileAs writes pid into path with mode, owned by uid.
func writePIDFileAs(t *testing.T, path string, pid, uid int, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// waitDecision waits until the Reloader logged that it signalled or
// refused to signal the pid file's process, and returns that log line.
func waitDecision(t *testing.T, logs *output) string {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		logs.mu.Lock()
		text, ch := logs.buf.String(), logs.changed
		logs.mu.Unlock()
		for line := range strings.Lines(text) {
			if strings.Contains(line, logSignal) || strings.Contains(line, logRefusal) {
				return line
			}
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for the pid file decision; logs:\n%s", text)
		}
	}
}

// TestPIDFileNamingUnreachableProcessIsRefused is finding 7 of issue 10:
// whoever could write the pid file could make the (root) helper signal any
// process. The targets are started by the test, not by the Reloader, and
// have SIGHUP blocked, so a signal sent to them stays visible as pending.
func TestPIDFileNamingUnreachableProcessIsRefused(t *testing.T) {
	prereq.Root(t, "runs a process as another uid")
	tests := []struct {
		name       string
		targetUID  int         // the process named by the pid file
		ownerUID   int         // the pid file's owner
		mode       os.FileMode // the pid file's mode
		anyProcess bool        // Config.PIDFileAnyProcess
		linkOwner  int         // >= 0: pid_file_name is a symlink owned by this uid
		wantSignal bool
		wantReason string
	}{
		{"other uid than the file's owner (root file, nobody's process)", nobody, 0, 0o644, false, -1, false, "not as the pid file's owner"},
		{"file owned by another uid naming a root process", 0, nobody, 0o644, false, -1, false, "not as the pid file's owner"},
		{"symlink of another uid to root's pid file", 0, 0, 0o644, false, nobody, false, "symlink owned by uid 65534"},
		{"root's symlink to nobody's pid file", nobody, nobody, 0o644, false, 0, true, ""},
		{"world-writable file", nobody, nobody, 0o666, false, -1, false, "writable by group or others"},
		{"group-writable file", nobody, nobody, 0o664, false, -1, false, "writable by group or others"},
		{"world-writable file with any process allowed", nobody, nobody, 0o646, true, -1, false, "writable by group or others"},
		{"same uid as the file's owner (legacy app)", nobody, nobody, 0o644, false, -1, true, ""},
		{"root's process named in root's file", 0, 0, 0o600, false, -1, true, ""},
		{"other uid, any process allowed", nobody, 0, 0o644, true, -1, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "app.pid")
			tg := startTarget(t, tt.targetUID)
			cfg, logs := pidConfig(pidFile)
			cfg.PIDFileAnyProcess = tt.anyProcess
			rr := start(t, cfg)
			if tt.linkOwner >= 0 {
				real := filepath.Join(t.TempDir(), "real.pid")
				writePIDFileAs(t, real, tg.pid(), tt.ownerUID, tt.mode)
				if err := os.Symlink(real, pidFile); err != nil {
					t.Fatal(err)
				}
				if err := os.Lchown(pidFile, tt.linkOwner, tt.linkOwner); err != nil {
					t.Fatal(err)
				}
			} else {
				writePIDFileAs(t, pidFile, tg.pid(), tt.ownerUID, tt.mode)
			}
			rr.Notify()
			decision := waitDecision(t, logs)
			if got := tg.hupPending(t); got != tt.wantSignal {
				t.Fatalf("target (uid %d) got SIGHUP = %v, want %v; decision: %s", tt.targetUID, got, tt.wantSignal, decision)
			}
			if !tt.wantSignal && !strings.Contains(decision, tt.wantReason) {
				t.Fatalf("refusal %q does not give the reason %q", decision, tt.wantReason)
			}
		})
	}
}

// TestPIDFileProcessInAnotherPIDNamespaceIsRefused: a process of the pid
// file's owner in another pid namespace (another container's, whose pid
// file happens to be visible) is not signalled; with PIDFileAnyProcess it
// is.
func TestPIDFileProcessInAnotherPIDNamespaceIsRefused(t *testing.T) {
	prereq.Root(t, "runs a process as another uid") // CLONE_NEWPID
	tests := []struct {
		name       string
		anyProcess bool
		wantSignal bool
	}{
		{"refused", false, false},
		{"any process allowed", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "app.pid")
			tg := startTargetWith(t, 0, syscall.CLONE_NEWPID)
			cfg, logs := pidConfig(pidFile)
			cfg.PIDFileAnyProcess = tt.anyProcess
			rr := start(t, cfg)
			writePIDFileAs(t, pidFile, tg.pid(), 0, 0o600)
			rr.Notify()
			decision := waitDecision(t, logs)
			if got := tg.hupPending(t); got != tt.wantSignal {
				t.Fatalf("target got SIGHUP = %v, want %v; decision: %s", got, tt.wantSignal, decision)
			}
			if !tt.wantSignal && !strings.Contains(decision, "another pid namespace") {
				t.Fatalf("refusal %q does not name the pid namespace", decision)
			}
		})
	}
}

// TestPIDFileRefusalIsLoggedOnce: a refused pid file is reported once at
// warning level, not on every Notify; a changed file is reported again.
func TestPIDFileRefusalIsLoggedOnce(t *testing.T) {
	prereq.Root(t, "runs a process as another uid")
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	tg := startTarget(t, nobody)
	cfg, logs := pidConfig(pidFile)
	rr := start(t, cfg)
	writePIDFileAs(t, pidFile, tg.pid(), 0, 0o644)
	rr.Notify()
	logs.wait(t, "level=WARN msg=\""+logRefusal)
	rr.Notify()
	rr.Notify()
	logs.waitCount(t, "refused pid file unchanged", 2)
	if n := logs.count("level=WARN msg=\"" + logRefusal); n != 1 {
		t.Fatalf("%d warnings for one refused pid file; logs:\n%s", n, logs.String())
	}
	writePIDFileAs(t, pidFile, tg.pid(), 0, 0o664) // a different state
	rr.Notify()
	logs.waitCount(t, "level=WARN msg=\""+logRefusal, 2)
	if tg.hupPending(t) {
		t.Fatal("target got SIGHUP")
	}
}

// TestPIDFileRefusesInitAndItself: pid 1 and the helper's own pid are never
// signalled. (Not run against the unfixed code: there it would send SIGHUP
// to this machine's init.)
func TestPIDFileRefusesInitAndItself(t *testing.T) {
	tests := []struct {
		name       string
		pid        int
		wantReason string
	}{
		{"init", 1, "pid 1"},
		{"the helper itself", os.Getpid(), "is the helper itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "app.pid")
			cfg, logs := pidConfig(pidFile)
			cfg.PIDFileAnyProcess = true // refused even so
			rr := start(t, cfg)
			if err := os.WriteFile(pidFile, []byte(strconv.Itoa(tt.pid)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			rr.Notify()
			if d := waitDecision(t, logs); !strings.Contains(d, logRefusal) || !strings.Contains(d, tt.wantReason) {
				t.Fatalf("decision = %s, want a refusal naming %q", d, tt.wantReason)
			}
		})
	}
}

// TestPIDFileDescendantOfCmdIsSignalled: cmd (a root shell) starts a
// process that runs as another uid and writes its pid into a root-owned pid
// file, as daemons that drop privileges do. It is cmd's descendant, so it
// is signalled although it does not run as the pid file's owner.
func TestPIDFileDescendantOfCmdIsSignalled(t *testing.T) {
	prereq.Root(t, "runs a process as another uid")
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	log, logs := logger()
	// The shell waits until the launcher runs sleep (SIGHUP blocked) before
	// it writes the pid file.
	script := `"$0" 3>/dev/null & p=$!
while [ "$(cat /proc/$p/comm)" != sleep ]; do :; done
echo $p > "$1"; wait`
	cfg := reloader.Config{
		Cmd:           "/bin/sh",
		Args:          []string{"-c", script, appPath(t), pidFile},
		Env:           append(os.Environ(), launchEnv+"="+strconv.Itoa(nobody)),
		PIDFile:       pidFile,
		PIDFileSettle: 20 * time.Millisecond,
		Log:           log,
	}
	rr := start(t, cfg)
	rr.Notify() // starts sh, which starts the target and writes its pid
	decision := waitDecision(t, logs)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if !strings.Contains(decision, logSignal) {
		t.Fatalf("decision = %s, want the descendant signalled", decision)
	}
	if !hupPending(t, pid) {
		t.Fatalf("descendant %d has no SIGHUP pending", pid)
	}
}
