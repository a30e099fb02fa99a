//go:build linux

package procid_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svidkit/svidkit/internal/fakeproc"
	"github.com/svidkit/svidkit/pkg/procid"
)

// roleEnv makes the test binary a child process for these tests: "wait"
// runs until stdin closes, after it switched to the real, effective and
// saved uids in uidsEnv, if set, and closed fd 3; "exec" reads a line from
// stdin, then execs $PROCID_TEST_EXEC, closing fd 3 so the parent learns
// it happened.
const (
	roleEnv = "PROCID_TEST_ROLE"
	uidsEnv = "PROCID_TEST_UIDS"
)

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "":
		os.Exit(m.Run())
	case "wait":
		if uids := os.Getenv(uidsEnv); uids != "" {
			var r, e, s int
			if _, err := fmt.Sscan(uids, &r, &e, &s); err != nil {
				os.Exit(2)
			}
			if err := syscall.Setresuid(r, e, s); err != nil {
				fmt.Fprintln(os.Stderr, "setresuid:", err)
				os.Exit(2)
			}
		}
		os.NewFile(3, "ready").Close()
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "exec":
		unix.CloseOnExec(3)
		if _, err := os.Stdin.Read(make([]byte, 1)); err != nil {
			os.Exit(2)
		}
		prog := os.Getenv("PROCID_TEST_EXEC")
		err := syscall.Exec(prog, []string{prog, "600"}, os.Environ())
		fmt.Fprintln(os.Stderr, "exec:", err)
		os.Exit(1)
	}
	os.Exit(3)
}

// child is a running child process for these tests.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// execd reaches EOF when an "exec" child has exec'd.
	execd *os.File
}

func startChild(t *testing.T, role string) *child {
	t.Helper()
	return startChildWith(t, role, &syscall.SysProcAttr{})
}

// startChildWith is startChild with attr for the child (its Pdeathsig is
// set here).
func startChildWith(t *testing.T, role string, attr *syscall.SysProcAttr, env ...string) *child {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("need a sleep binary: %v", err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), roleEnv+"="+role, "PROCID_TEST_EXEC="+sleep)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	attr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr = attr
	c := &child{cmd: cmd}
	var w *os.File
	if c.execd, w, err = os.Pipe(); err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{w}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		c.stdin.Close()
		c.execd.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return c
}

func (c *child) pid() int32 { return int32(c.cmd.Process.Pid) }

// exit ends a "wait" child and reaps it, freeing its pid.
func (c *child) exit(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// exec makes an "exec" child exec sleep and waits until it has.
func (c *child) exec(t *testing.T) {
	t.Helper()
	if _, err := c.stdin.Write([]byte{'\n'}); err != nil {
		t.Fatal(err)
	}
	c.waitFD3(t)
}

// waitFD3 waits until the child closed fd 3: a "wait" child is set up, an
// "exec" one has exec'd.
func (c *child) waitFD3(t *testing.T) {
	t.Helper()
	if err := c.execd.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.execd.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("waiting for the child to close fd 3: %v", err)
	}
}

func TestVerify(t *testing.T) {
	opens := []struct {
		name string
		open func(pid int32) (*procid.Process, error)
	}{
		{name: "pidfd_open", open: func(pid int32) (*procid.Process, error) { return procid.OpenPID("/proc", pid) }},
		{name: "start time only", open: func(pid int32) (*procid.Process, error) { return procid.Open("/proc", pid, nil) }},
	}
	tests := []struct {
		name   string
		role   string
		change func(c *child, t *testing.T)
		want   error
	}{
		{name: "still running", role: "wait", change: func(*child, *testing.T) {}},
		{name: "exited", role: "wait", change: (*child).exit, want: procid.ErrGone},
		{name: "exec'd", role: "exec", change: (*child).exec, want: procid.ErrExeChanged},
	}
	for _, o := range opens {
		for _, tt := range tests {
			t.Run(o.name+"/"+tt.name, func(t *testing.T) {
				c := startChild(t, tt.role)
				p, err := o.open(c.pid())
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				if p.PID() != c.pid() {
					t.Errorf("PID = %d, want %d", p.PID(), c.pid())
				}
				tt.change(c, t)
				err = p.Verify()
				if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("Verify = %v, want %v", err, tt.want)
				}
			})
		}
	}
}

func TestMatchExe(t *testing.T) {
	p, err := procid.OpenPID("/proc", int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.Stat("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   procid.FileID
		want error
	}{
		{name: "the executable", id: procid.FileIDOf(self)},
		{name: "another file", id: procid.FileIDOf(other), want: procid.ErrExeChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.MatchExe(tt.id); tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Fatalf("MatchExe = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyFakeTree changes what a fake /proc tree says about a process:
// without a pidfd, a new start time is all that tells a reused pid apart.
func TestVerifyFakeTree(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		want   error
	}{
		{name: "unchanged", change: func(*testing.T, string) {}},
		{name: "pid reused", want: procid.ErrGone, change: func(t *testing.T, dir string) {
			fakeproc.WriteStat(t, filepath.Dir(dir), 7, fakeproc.StartTime+1)
		}},
		{name: "process gone", want: procid.ErrGone, change: func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			p := fakeproc.Open(t, root, 7)
			tt.change(t, filepath.Join(root, "7"))
			if err := p.Verify(); tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestClose(t *testing.T) {
	p, err := procid.OpenPID("/proc", int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.Verify(); err == nil {
		t.Fatal("Verify after Close succeeded, want error")
	}
}

func TestOpenInvalid(t *testing.T) {
	for _, pid := range []int32{0, -1} {
		if _, err := procid.OpenPID("/proc", pid); err == nil {
			t.Errorf("OpenPID(%d) succeeded, want error", pid)
		}
	}
}
