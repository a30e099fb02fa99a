package sockrace

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of the child process.
const (
	envPaths  = "SOCKRACE_PATHS" // joined with ":"
	envTarget = "SOCKRACE_TARGET"
)

// readyTimeout bounds the wait for the child to start swapping.
const readyTimeout = 10 * time.Second

// RunChild is the body of the test named by StartChild's childTest: in the
// child process it runs Swap until SIGTERM and exits; in a normal test run
// it skips.
func RunChild(t *testing.T) {
	paths, target := os.Getenv(envPaths), os.Getenv(envTarget)
	if paths == "" {
		t.Skip("runs only as sockrace's child process")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fmt.Println("sockrace ready")
	n, err := Swap(ctx, target, strings.Split(paths, ":")...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "sockrace: %d swaps\n", n)
	os.Exit(0)
}

// StartChild runs Swap(target, paths...) in a child process with uid and gid,
// until the test ends. The child is a copy of the running test binary (the
// build directory is private to root) running only the test childTest,
// which must call RunChild. StartChild returns once the child is swapping.
func StartChild(t *testing.T, childTest string, uid, gid uint32, target string, paths ...string) {
	t.Helper()
	bin := copyTestBinary(t)
	cmd := exec.Command(bin, "-test.run=^"+childTest+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), envPaths+"="+strings.Join(paths, ":"), envTarget+"="+target)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("sockrace: start child as uid %d: %v", uid, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		t.Logf("sockrace child: %s", strings.TrimSpace(stderr.String()))
	})
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "sockrace ready" {
			err = fmt.Errorf("unexpected output %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("sockrace: child did not start: %v\n%s", err, stderr.String())
		}
	case <-time.After(readyTimeout):
		t.Fatalf("sockrace: child not ready after %v\n%s", readyTimeout, stderr.String())
	}
}

// copyTestBinary copies the test binary where any uid may run it.
func copyTestBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sockrace")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "child.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}
