package reloader_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// hupBit is SIGHUP's bit in the SigPnd, ShdPnd and SigBlk masks.
const hupBit = 1 << (syscall.SIGHUP - 1)

// launchMain is the launcher (see launchEnv): it blocks SIGHUP, optionally
// switches to the uid (and gid) in launchEnv, and execs sleep. A blocked
// signal stays pending, so whether anyone sent the target SIGHUP can be read
// from /proc/<pid>/status at any time later, with no race against its
// delivery.
func launchMain() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "launcher:", err)
		os.Exit(2)
	}
	// The signal mask is per thread and survives execve.
	runtime.LockOSThread()
	set := unix.Sigset_t{}
	set.Val[0] = hupBit
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		fail(err)
	}
	if uid, _ := strconv.Atoi(os.Getenv(launchEnv)); uid > 0 {
		if err := errors.Join(syscall.Setgroups(nil), syscall.Setgid(uid), syscall.Setuid(uid)); err != nil {
			fail(err)
		}
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		fail(err)
	}
	// fd 3 is the test's pipe: closed by the exec, which the test waits for.
	unix.CloseOnExec(3)
	fail(syscall.Exec(sleep, []string{"sleep", "1000"}, nil))
}

// target is a sleep process with SIGHUP blocked, started by the test (not
// by a Reloader).
type target struct {
	cmd    *exec.Cmd
	waited chan struct{}
}

// startTarget starts a target running as uid (0: as the test) and returns
// once it runs sleep.
func startTarget(t *testing.T, uid int) *target {
	t.Helper()
	return startTargetWith(t, uid, 0)
}

// startTargetWith is startTarget with clone flags for the target, such as
// CLONE_NEWPID to start it in a pid namespace of its own.
func startTargetWith(t *testing.T, uid int, cloneflags uintptr) *target {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(appPath(t))
	cmd.Env = append(os.Environ(), launchEnv+"="+strconv.Itoa(uid))
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneflags}
	stderr := newOutput()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(errors.Join(err, w.Close()))
	}
	w.Close()
	tg := &target{cmd: cmd, waited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(tg.waited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-tg.waited })
	if _, err := io.ReadAll(r); err != nil { // EOF once sleep runs
		t.Fatal(err)
	}
	st := procStatus(t, tg.pid())
	if st["Name"] != "sleep" || !strings.HasPrefix(st["Uid"], strconv.Itoa(uid)+"\t") || sigMask(t, st, "SigBlk")&hupBit == 0 {
		t.Fatalf("target is not sleep as uid %d with SIGHUP blocked: Name %q Uid %q SigBlk %q; stderr %q",
			uid, st["Name"], st["Uid"], st["SigBlk"], stderr.String())
	}
	return tg
}

func (tg *target) pid() int { return tg.cmd.Process.Pid }

// hupPending reports whether the target, still running, was sent SIGHUP.
func (tg *target) hupPending(t *testing.T) bool {
	t.Helper()
	select {
	case <-tg.waited:
		t.Fatalf("target %d exited", tg.pid())
	default:
	}
	return hupPending(t, tg.pid())
}

// hupPending reports whether SIGHUP is pending for pid.
func hupPending(t *testing.T, pid int) bool {
	t.Helper()
	st := procStatus(t, pid)
	return (sigMask(t, st, "SigPnd")|sigMask(t, st, "ShdPnd"))&hupBit != 0
}

// procStatus returns the fields of /proc/<pid>/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		st[k] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return st
}

// sigMask parses the hex signal mask key of a status.
func sigMask(t *testing.T, st map[string]string, key string) uint64 {
	t.Helper()
	m, err := strconv.ParseUint(st[key], 16, 64)
	if err != nil {
		t.Fatalf("%s %q: %v", key, st[key], err)
	}
	return m
}
